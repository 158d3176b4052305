//! The block pool's index arithmetic in Rust, with Kani proof harnesses.
//! Kani (`cargo install --locked kani-verifier`) is not a Debian package;
//! the `kani` pipeline runs these where it is installed.

pub const BLOCKS: usize = 16;
pub const BLOCK_SIZE: usize = 64;

/// Byte offset of block `index`, or None outside the pool.
pub fn block_offset(index: usize) -> Option<usize> {
    if index < BLOCKS {
        Some(index * BLOCK_SIZE)
    } else {
        None
    }
}

#[cfg(kani)]
mod proofs {
    use super::*;

    #[kani::proof]
    fn blocks_stay_in_storage() {
        let i: usize = kani::any();
        if let Some(off) = block_offset(i) {
            assert!(off + BLOCK_SIZE <= BLOCKS * BLOCK_SIZE);
        }
    }

    #[kani::proof]
    fn distinct_blocks_do_not_overlap() {
        let i: usize = kani::any();
        let j: usize = kani::any();
        kani::assume(i != j);
        if let (Some(a), Some(b)) = (block_offset(i), block_offset(j)) {
            assert!(a + BLOCK_SIZE <= b || b + BLOCK_SIZE <= a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets() {
        assert_eq!(block_offset(0), Some(0));
        assert_eq!(block_offset(15), Some(960));
        assert_eq!(block_offset(16), None);
    }
}
