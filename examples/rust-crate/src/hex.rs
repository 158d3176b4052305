//! Lowercase hex encoding.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// `bytes` as lowercase hex, two digits per byte.
pub fn to_hex(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for &byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)]);
        out.push(DIGITS[usize::from(byte & 0x0F)]);
    }
    // SAFETY: every byte pushed above comes from DIGITS, which is ASCII, so
    // `out` is valid UTF-8 and the check `String::from_utf8` would do is
    // redundant.
    unsafe { String::from_utf8_unchecked(out) }
}

#[cfg(test)]
mod tests {
    use super::to_hex;

    #[test]
    fn empty() {
        assert_eq!(to_hex(&[]), "");
    }

    #[test]
    fn every_nibble() {
        assert_eq!(to_hex(&[0x01, 0x23, 0xAB, 0xEF]), "0123abef");
    }
}
