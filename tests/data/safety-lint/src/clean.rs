pub fn add(a: u32, b: u32) -> Option<u32> {
    a.checked_add(b)
}

pub fn or_zero(v: Option<u32>) -> u32 {
    v.unwrap_or(0)
}

#[test]
fn unit() {
    Some(1).unwrap();
}
