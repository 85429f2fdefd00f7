//! The CRCs the AWS SDK's flexible checksums compute (`aws-smithy-checksums`: S3's
//! `x-amz-checksum-crc32`, `-crc32c` and `-crc64nvme`), with the calls it makes of the
//! `crc-fast` crate: [`Digest::new`], [`Digest::update`], [`Digest::finalize`] and
//! [`checksum`].
//!
//! All three are reflected CRCs that start from all ones and end XORed with all ones; they
//! differ in width and polynomial (the parameters of the CRC catalogue's entries). Each is
//! computed a byte at a time from a 256-entry table made at compile time.

/// The CRCs this crate computes: the variants of `crc-fast`'s `CrcAlgorithm` that the SDK
/// names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CrcAlgorithm {
    /// CRC-32/ISO-HDLC: zlib's, PNG's and S3's `crc32`.
    Crc32IsoHdlc,
    /// CRC-32/ISCSI (CRC-32C, Castagnoli): S3's `crc32c`.
    Crc32Iscsi,
    /// CRC-64/NVME: S3's `crc64nvme`.
    Crc64Nvme,
}

/// A reflected CRC's table: the remainder of each byte value, one bit at a time.
const fn table(reflected_poly: u64) -> [u64; 256] {
    let mut table = [0u64; 256];
    let mut byte = 0;
    while byte < 256 {
        let mut crc = byte as u64;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ reflected_poly
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[byte] = crc;
        byte += 1;
    }
    table
}

/// The polynomials, bit-reversed (the catalogue's `poly` read from its low bit).
const CRC32_ISO_HDLC: [u64; 256] = table(0xEDB8_8320);
const CRC32_ISCSI: [u64; 256] = table(0x82F6_3B78);
const CRC64_NVME: [u64; 256] = table(0x9A6C_9329_AC4B_C9B5);

impl CrcAlgorithm {
    fn table(self) -> &'static [u64; 256] {
        match self {
            CrcAlgorithm::Crc32IsoHdlc => &CRC32_ISO_HDLC,
            CrcAlgorithm::Crc32Iscsi => &CRC32_ISCSI,
            CrcAlgorithm::Crc64Nvme => &CRC64_NVME,
        }
    }

    /// All ones in the CRC's width: its initial value and its final XOR.
    fn ones(self) -> u64 {
        match self {
            CrcAlgorithm::Crc32IsoHdlc | CrcAlgorithm::Crc32Iscsi => u64::from(u32::MAX),
            CrcAlgorithm::Crc64Nvme => u64::MAX,
        }
    }
}

/// A CRC being computed over data given in parts.
#[derive(Debug, Clone, Copy)]
pub struct Digest {
    algorithm: CrcAlgorithm,
    state: u64,
}

impl Digest {
    /// A CRC of nothing yet.
    pub fn new(algorithm: CrcAlgorithm) -> Self {
        Digest {
            algorithm,
            state: algorithm.ones(),
        }
    }

    /// Adds `data` after what was added before.
    pub fn update(&mut self, data: &[u8]) {
        let table = self.algorithm.table();
        let mut crc = self.state;
        for &byte in data {
            crc = table[((crc ^ u64::from(byte)) & 0xFF) as usize] ^ (crc >> 8);
        }
        self.state = crc;
    }

    /// The CRC of everything added so far (in the low bits for a 32-bit CRC).
    pub fn finalize(&self) -> u64 {
        self.state ^ self.algorithm.ones()
    }

    /// [`Digest::finalize`], then starts again from nothing.
    pub fn finalize_reset(&mut self) -> u64 {
        let crc = self.finalize();
        self.reset();
        crc
    }

    /// Starts again from nothing.
    pub fn reset(&mut self) {
        self.state = self.algorithm.ones();
    }
}

/// The CRC of `buf`.
pub fn checksum(algorithm: CrcAlgorithm, buf: &[u8]) -> u64 {
    let mut digest = Digest::new(algorithm);
    digest.update(buf);
    digest.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The "check" value of each CRC in the catalogue of parametrised CRC algorithms: the CRC
    /// of the nine ASCII digits "123456789".
    #[test]
    fn each_crc_gives_the_catalogues_check_value() {
        assert_eq!(
            checksum(CrcAlgorithm::Crc32IsoHdlc, b"123456789"),
            0xCBF4_3926
        );
        assert_eq!(
            checksum(CrcAlgorithm::Crc32Iscsi, b"123456789"),
            0xE306_9283
        );
        assert_eq!(
            checksum(CrcAlgorithm::Crc64Nvme, b"123456789"),
            0xAE8B_1486_0A79_9888
        );
    }

    /// The CRC of nothing is the initial value XORed with itself.
    #[test]
    fn nothing() {
        for algorithm in [
            CrcAlgorithm::Crc32IsoHdlc,
            CrcAlgorithm::Crc32Iscsi,
            CrcAlgorithm::Crc64Nvme,
        ] {
            assert_eq!(checksum(algorithm, b""), 0, "{algorithm:?}");
        }
    }

    /// CRC-32/ISO-HDLC against another implementation of it (`crc32fast`, zlib's CRC), over
    /// every length up to 300 bytes and a larger buffer.
    #[test]
    fn crc32_agrees_with_crc32fast() {
        let data: Vec<u8> = (0..70_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for len in (0..300).chain([4_096, 65_537, 70_000]) {
            assert_eq!(
                checksum(CrcAlgorithm::Crc32IsoHdlc, &data[..len]),
                u64::from(crc32fast::hash(&data[..len])),
                "{len} bytes"
            );
        }
    }

    /// The workspace links this crate, not the one it stands in for: when a patch stops
    /// applying (an SDK asking for a version this one is not), cargo only warns, and links the
    /// other crate again.
    #[test]
    fn the_workspace_links_this_crate() {
        // Where the crate is now (cargo sets it for the test's run), not where it was built:
        // cargo reuses a test binary built from another checkout of the same tree.
        let dir = std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned());
        let lock = std::fs::read_to_string(format!("{dir}/../../Cargo.lock"))
            .expect("the workspace's Cargo.lock");
        let entries: Vec<&str> = lock
            .split("[[package]]")
            .filter(|p| p.contains("name = \"crc-fast\""))
            .collect();
        assert_eq!(entries.len(), 1, "one crc-fast: {entries:?}");
        assert!(
            !entries[0].contains("source ="),
            "from a registry: {}",
            entries[0]
        );
        assert!(!lock.contains("[[patch.unused]]"), "a patch is not used");
    }

    #[test]
    fn parts_give_the_crc_of_the_whole() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        for algorithm in [
            CrcAlgorithm::Crc32IsoHdlc,
            CrcAlgorithm::Crc32Iscsi,
            CrcAlgorithm::Crc64Nvme,
        ] {
            let whole = checksum(algorithm, &data);
            let mut digest = Digest::new(algorithm);
            for part in data.chunks(333) {
                digest.update(part);
            }
            assert_eq!(digest.finalize(), whole, "{algorithm:?}");
            assert_eq!(digest.finalize_reset(), whole);
            assert_eq!(digest.finalize(), 0, "reset: the CRC of nothing");
            digest.update(&data);
            assert_eq!(digest.finalize(), whole);
        }
    }
}
