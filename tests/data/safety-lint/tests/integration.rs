#[test]
fn integration() {
    let v: Option<u8> = None;
    v.unwrap();
}
