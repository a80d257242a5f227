//! Crash-safe file and folder writes: write to a temporary sibling, then rename into place.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically: a crash leaves either the old file or the new one,
/// and a failed write leaves no temporary file behind.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = temp_sibling(path);
    let written = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        sync_parent(path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Fills a fresh temporary folder beside `dest` with `fill`, flushes every file in it to
/// disk, then renames it to `dest` (replacing an older `dest`). A crash leaves no
/// half-written `dest`, and a failure leaves no temporary folder.
pub fn write_dir_atomic<E: From<std::io::Error>>(
    dest: &Path,
    fill: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<(), E> {
    let tmp = temp_sibling(dest);
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    std::fs::create_dir_all(&tmp)?;
    let filled = fill(&tmp).and_then(|()| {
        let publish = || -> std::io::Result<()> {
            for entry in std::fs::read_dir(&tmp)? {
                std::fs::File::open(entry?.path())?.sync_all()?;
            }
            if dest.exists() {
                std::fs::remove_dir_all(dest)?;
            }
            std::fs::rename(&tmp, dest)?;
            sync_parent(dest)
        };
        publish().map_err(E::from)
    });
    if filled.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    filled
}

/// Flushes the directory entry of `path` (the rename) to disk.
fn sync_parent(path: &Path) -> std::io::Result<()> {
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => std::fs::File::open(parent)?.sync_all(),
        None => Ok(()),
    }
}

fn temp_sibling(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}{TEMP_MARK}{}", std::process::id()))
}

/// What a temporary sibling's name holds between the target's name and the writer's pid.
const TEMP_MARK: &str = ".tmp-";

/// Removes the temporary files and folders that writers killed mid-write left in `dir`
/// (those whose process is gone); returns how many. Call before writing into `dir`.
pub fn remove_stale_temporaries(dir: &Path) -> std::io::Result<usize> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(0);
    };
    let mut removed = 0;
    for entry in entries {
        let path = entry?.path();
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let Some(pid) = name
            .strip_prefix('.')
            .and_then(|rest| rest.rsplit_once(TEMP_MARK))
            .and_then(|(_, pid)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() || process_alive(pid) {
            continue;
        }
        if path.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else {
            std::fs::remove_file(&path)?;
        }
        removed += 1;
    }
    Ok(removed)
}

/// Whether process `pid` still runs (Linux's /proc; elsewhere every writer counts as gone).
fn process_alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_file_replaces_content() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn failed_write_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        // The target is a folder, so the rename fails after the temporary file was written.
        let target = dir.path().join("taken");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("inside"), b"x").unwrap();
        assert!(write_atomic(&target, b"new").is_err());
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["taken"]);
    }

    #[test]
    fn stale_temporaries_of_dead_writers_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        // pid 0 is never a writer's: its folder is stale. Our own is in use and stays.
        let stale = dir.path().join(".epoch-0003.tmp-0");
        std::fs::create_dir(&stale).unwrap();
        std::fs::write(stale.join("half.bpk"), b"..").unwrap();
        std::fs::write(dir.path().join(".latest.tmp-0"), b"ep").unwrap();
        let ours = temp_sibling(&dir.path().join("epoch-0004"));
        std::fs::create_dir(&ours).unwrap();
        std::fs::write(dir.path().join("keep.tmp-0"), b"not hidden: not ours").unwrap();
        assert_eq!(remove_stale_temporaries(dir.path()).unwrap(), 2);
        assert!(!stale.exists() && ours.exists());
        assert!(dir.path().join("keep.tmp-0").exists());
        assert_eq!(
            remove_stale_temporaries(&dir.path().join("none")).unwrap(),
            0
        );
    }

    #[test]
    fn failed_fill_leaves_no_folder() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("ckpt");
        let r: Result<(), std::io::Error> = write_dir_atomic(&dest, |tmp| {
            std::fs::write(tmp.join("x"), b"1")?;
            Err(std::io::Error::other("boom"))
        });
        assert!(r.is_err());
        assert!(!dest.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        write_dir_atomic::<std::io::Error>(&dest, |tmp| std::fs::write(tmp.join("x"), b"1"))
            .unwrap();
        assert_eq!(std::fs::read(dest.join("x")).unwrap(), b"1");
    }
}
