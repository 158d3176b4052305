//! A memory pool. Comments may say unsafe { } or panic!() without counting.
/* block comments too: x.unwrap() /* nested */ still a comment */

pub struct Pool {
    data: [u8; 16],
    used: usize,
}

impl Pool {
    pub fn alloc(&mut self, n: usize) -> Option<&mut [u8]> {
        let s = "strings are not code: unsafe { todo!() } .unwrap()";
        let r = r#"raw "unsafe {" strings"#;
        let _ = (s, r, 'x', '\'');
        if self.used + n > self.data.len() {
            return None;
        }
        let start = self.used;
        self.used += n;
        Some(&mut self.data[start..start + n])
    }

    pub fn first<'a>(&'a self) -> u8 {
        let v: Option<u8> = self.data.first().copied();
        v.unwrap()
    }

    pub fn raw_copy(&mut self, src: &[u8]) {
        unsafe {
            core::ptr::copy_nonoverlapping(src.as_ptr(), self.data.as_mut_ptr(), src.len());
        }
    }

    pub fn peek(&self, i: usize) -> u8 {
        unsafe { *self.data.as_ptr().add(i) }
    }

    pub fn must(&self) -> u8 {
        self.data.get(0).copied().expect("pool is never empty")
    }

    pub fn reset(&mut self) {
        if self.used > 16 {
            panic!("corrupt pool");
        }
        self.used = 0;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn alloc_works() {
        let v: Option<u8> = Some(1);
        v.unwrap();
        panic!("tests may panic");
    }
}
