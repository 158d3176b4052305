//! Small checksum helpers: Adler-32 and lowercase hex encoding.
//!
//! The crate exists to be checked by wrt (see `wrt.toml`): it compiles,
//! tests, lints, formats and documents cleanly, and its one `unsafe` block is
//! justified in the `unsafe-audit` stage's allow list.

mod hex;

pub use hex::to_hex;

/// The largest prime below 2^16, the modulus of both Adler-32 sums.
const MOD_ADLER: u32 = 65_521;

/// Adler-32 checksum of `data`, as used by zlib.
///
/// ```
/// assert_eq!(checksum::adler32(b"Wikipedia"), 0x11E6_0398);
/// ```
pub fn adler32(data: &[u8]) -> u32 {
    let mut a: u32 = 1;
    let mut b: u32 = 0;
    for &byte in data {
        a = (a + u32::from(byte)) % MOD_ADLER;
        b = (b + a) % MOD_ADLER;
    }
    (b << 16) | a
}

/// Adler-32 of `data` as eight lowercase hex digits.
pub fn adler32_hex(data: &[u8]) -> String {
    to_hex(&adler32(data).to_be_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_input_is_one() {
        assert_eq!(adler32(b""), 1);
    }

    #[test]
    fn known_vector() {
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
    }

    #[test]
    fn long_input_stays_reduced() {
        let data = vec![0xFF_u8; 100_000];
        let sum = adler32(&data);
        assert!(sum & 0xFFFF < MOD_ADLER);
        assert!(sum >> 16 < MOD_ADLER);
    }

    #[test]
    fn hex_of_checksum() {
        assert_eq!(adler32_hex(b"Wikipedia"), "11e60398");
    }
}
