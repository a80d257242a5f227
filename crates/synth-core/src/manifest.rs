//! The checkpoint manifest: what a checkpoint folder holds and where it came from.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Version of the checkpoint folder layout; bumped on incompatible changes.
pub const FORMAT_VERSION: u32 = 1;
/// File name of the manifest inside a checkpoint folder.
pub const MANIFEST_FILE: &str = "manifest.toml";

/// `manifest.toml` of a checkpoint folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Checkpoint layout version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// Model kind, e.g. `ctgan`.
    pub kind: String,
    /// Version of synth that wrote it.
    pub synth_version: String,
    /// Version of burn that wrote it.
    pub burn_version: String,
    /// Backend it was trained on.
    pub backend: String,
    /// The run's master seed.
    pub seed: u64,
    /// Epochs completed.
    pub epoch: usize,
    /// Optimisation steps completed.
    pub step: u64,
    /// Hash of the training data file, to refuse resuming on different data (withheld from
    /// differentially private runs: a hash lets anyone test a guess of the whole table).
    pub data_hash: String,
    /// The differential-privacy guarantee of a private model's release (checkpoint and
    /// samples); `None` for the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy: Option<Guarantee>,
}

/// An `(epsilon, delta)` differential-privacy guarantee: what was asked for and what the
/// fit spent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Guarantee {
    /// The epsilon asked for (`privacy.epsilon`).
    pub epsilon: f64,
    /// The delta asked for (`privacy.delta`).
    pub delta: f64,
}

/// Why a manifest could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The folder has no manifest (or it cannot be read).
    #[error(
        "{path}: cannot read the checkpoint manifest ({source}); is this a checkpoint folder written by synth-train?"
    )]
    Io {
        /// The manifest path.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The manifest is not valid TOML of the expected shape (e.g. truncated).
    #[error("{path}: damaged checkpoint manifest: {message}")]
    Parse {
        /// The manifest path.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// Written by an incompatible version.
    #[error("{path}: checkpoint format version {found}, this synth reads version {FORMAT_VERSION}")]
    Version {
        /// The manifest path.
        path: PathBuf,
        /// The version found.
        found: u32,
    },
}

impl Manifest {
    /// Serialises to TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("manifest serialises")
    }

    /// Reads `manifest.toml` from a checkpoint folder.
    pub fn load(dir: &Path) -> Result<Self, ManifestError> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| ManifestError::Io {
            path: path.clone(),
            source,
        })?;
        let manifest: Manifest = toml::from_str(&text).map_err(|e| ManifestError::Parse {
            path: path.clone(),
            message: e.to_string(),
        })?;
        if manifest.format_version != FORMAT_VERSION {
            return Err(ManifestError::Version {
                path,
                found: manifest.format_version,
            });
        }
        Ok(manifest)
    }
}

/// A short stable hash (FNV-1a, 64 bit, hex) of a data file's bytes, or of a folder's files
/// (their paths relative to the folder and their bytes, in sorted order, recursively). Files
/// are streamed, so memory does not grow with their size.
pub fn data_hash(path: &Path) -> std::io::Result<String> {
    let mut hasher = DataHasher::default();
    if path.is_dir() {
        let mut files = Vec::new();
        collect_files(path, &mut files)?;
        files.sort();
        for file in files {
            let relative = file.strip_prefix(path).unwrap_or(&file);
            hasher.feed(relative.to_string_lossy().as_bytes());
            std::io::copy(&mut std::fs::File::open(&file)?, &mut hasher)?;
        }
    } else {
        std::io::copy(&mut std::fs::File::open(path)?, &mut hasher)?;
    }
    Ok(hasher.finish())
}

/// The hash [`data_hash`] computes, fed as a writer: a table held in memory is hashed by
/// writing it (as CSV, say) into one.
#[derive(Debug, Clone)]
pub struct DataHasher(u64);

impl Default for DataHasher {
    fn default() -> Self {
        DataHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl DataHasher {
    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    /// The hash of everything written, as 16 hex digits.
    pub fn finish(&self) -> String {
        format!("{:016x}", self.0)
    }
}

impl std::io::Write for DataHasher {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.feed(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn manifest() -> Manifest {
        Manifest {
            format_version: FORMAT_VERSION,
            kind: "ctgan".into(),
            synth_version: "0.1.0".into(),
            burn_version: "0.22.1".into(),
            backend: "ndarray".into(),
            seed: 7,
            epoch: 3,
            step: 150,
            data_hash: "00ff".into(),
            privacy: Some(Guarantee {
                epsilon: 1.5,
                delta: 1e-9,
            }),
        }
    }

    #[test]
    fn round_trips_and_rejects_damage() {
        let dir = tempfile::tempdir().unwrap();
        let text = manifest().to_toml();
        std::fs::write(dir.path().join(MANIFEST_FILE), &text).unwrap();
        assert_eq!(Manifest::load(dir.path()).unwrap(), manifest());
        std::fs::write(dir.path().join(MANIFEST_FILE), &text[..text.len() / 2]).unwrap();
        let err = Manifest::load(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("manifest.toml") && err.contains("damaged"),
            "{err}"
        );
        let other = Manifest {
            format_version: 99,
            ..manifest()
        };
        std::fs::write(dir.path().join(MANIFEST_FILE), other.to_toml()).unwrap();
        assert!(matches!(
            Manifest::load(dir.path()),
            Err(ManifestError::Version { found: 99, .. })
        ));
        let err = Manifest::load(&dir.path().join("nope"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope"), "{err}");
    }

    #[test]
    fn data_hash_is_fnv1a_of_the_bytes_across_read_chunks() {
        // Values from an independent FNV-1a implementation; the second file spans four of
        // the 64 KiB reads, so chunking must not change the hash (saved checkpoints hold it).
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("abc");
        std::fs::write(&small, b"abc").unwrap();
        assert_eq!(data_hash(&small).unwrap(), "e71fa2190541574b");
        let big = dir.path().join("big");
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&big, bytes).unwrap();
        assert_eq!(data_hash(&big).unwrap(), "f82c6da5cfebb44d");
    }

    #[test]
    fn data_hash_tracks_content_and_folder_layout() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.csv");
        std::fs::write(&p, "a\n1\n").unwrap();
        let h = data_hash(&p).unwrap();
        assert_eq!(h.len(), 16);
        std::fs::write(&p, "a\n2\n").unwrap();
        assert_ne!(h, data_hash(&p).unwrap());

        let folder = dir.path().join("images");
        std::fs::create_dir_all(folder.join("cats")).unwrap();
        std::fs::write(folder.join("cats/1.png"), "x").unwrap();
        let before = data_hash(&folder).unwrap();
        assert_eq!(before, data_hash(&folder).unwrap(), "stable");
        std::fs::rename(folder.join("cats"), folder.join("dogs")).unwrap();
        assert_ne!(before, data_hash(&folder).unwrap(), "a moved file counts");
        std::fs::write(folder.join("dogs/2.png"), "y").unwrap();
        let two = data_hash(&folder).unwrap();
        std::fs::write(folder.join("dogs/2.png"), "z").unwrap();
        assert_ne!(two, data_hash(&folder).unwrap(), "content counts");
    }
}
