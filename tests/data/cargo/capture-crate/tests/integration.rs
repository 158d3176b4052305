#[test]
fn integration_ok() {
    assert_eq!(capture::add(2, 2), 4);
}
