/// Adds. See [`Missing`].
pub fn add(a: i32, b: i32) -> i32 {
    let unused = 3;
    return a + b;
}

/// Doc test that passes.
///
/// ```
/// assert_eq!(capture::add(1, 2), 3);
/// ```
pub fn first(v: &[i32]) -> i32 {
    v.get(0).copied().unwrap()
}

/// Doc test that fails.
///
/// ```
/// assert_eq!(capture::add(1, 2), 4);
/// ```
pub fn second() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes() {
        assert_eq!(add(1, 2), 3);
    }

    #[test]
    fn fails() {
        println!("some output {{ brace");
        assert_eq!(add(1, 2), 4, "math is broken");
    }

    #[test]
    #[ignore = "not ready"]
    fn skipped() {}

    #[test]
    fn panics() {
        panic!("boom");
    }
}
