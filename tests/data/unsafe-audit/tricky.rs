// Real Rust (compiles with `rustc --edition 2024 --crate-type lib`): the
// keyword `unsafe` appears in comments, strings and names where it must not
// count, and in code where it must. Expected counts are in the test.

/* A block comment mentioning unsafe { }
   /* nested: unsafe fn f() {} */
   still a comment: unsafe impl Send for X {} */

/// Doc comment: call `unsafe { x.get_unchecked(0) }` with care.
pub const PLAIN: &str = "unsafe { not code }";
pub const ESCAPED: &str = "quote \" then unsafe { still a string }";
pub const RAW: &str = r#"raw "unsafe" { with quotes }"#;
pub const RAW2: &str = r##"a "# inside, unsafe fn still raw"##;
pub const BYTES: &[u8] = b"unsafe";
pub const RAW_BYTES: &[u8] = br#"unsafe {}"#;
pub const QUOTE: char = '"';
pub const BRACE: char = '{';
pub const ESC: char = '\'';
pub const UNI: char = '\u{1F600}';
pub const NON_ASCII: char = 'é';

pub fn lifetimes<'a>(s: &'a str) -> &'a str {
    'unsafe_label: loop {
        break 'unsafe_label s;
    }
}

pub fn not_unsafe_ident() -> i32 {
    let r#unsafe_value = 1; // an identifier that merely starts with unsafe
    r#unsafe_value
}

pub type Callback = unsafe fn(i32) -> i32;
pub type CCallback = unsafe extern "C" fn(i32) -> i32;

/// # Safety
/// `p` must be valid for reads.
pub unsafe fn read(p: *const u8) -> u8 {
    unsafe { *p }
}

/// # Safety
/// None needed; C ABI.
pub unsafe extern "C" fn c_entry(x: i32) -> i32 {
    x
}

pub struct Wrapper(*mut u8);
unsafe impl Send for Wrapper {}

/// # Safety
/// Implementors promise nothing.
pub unsafe trait Marker {}

unsafe extern "C" {
    pub fn abs(x: i32) -> i32;
}

#[unsafe(no_mangle)]
pub extern "C" fn exported() -> i32 {
    let s = "unsafe"; let v = unsafe { abs(-3) }; s.len() as i32 + v
}
