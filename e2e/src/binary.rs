//! Finds the `wicket` binary under test.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The environment variable that overrides where the binary is looked for.
pub const WICKET_BIN: &str = "WICKET_BIN";

/// `$WICKET_BIN`, else `target/<profile>/wicket` next to the directory holding the running
/// test executable (`target/<profile>/deps/…`).
pub fn wicket_binary() -> Result<PathBuf> {
    let path = match std::env::var_os(WICKET_BIN) {
        Some(path) => PathBuf::from(path),
        None => {
            let exe = std::env::current_exe()
                .map_err(|e| Error::io("cannot locate the test executable", e))?;
            beside_profile_dir(&exe)
        }
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error::BinaryMissing { path })
    }
}

fn beside_profile_dir(test_exe: &Path) -> PathBuf {
    let deps = test_exe.parent().unwrap_or(Path::new("."));
    let profile = deps.parent().unwrap_or(deps);
    profile.join("wicket")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_in_the_profile_directory() {
        let exe = Path::new("/repo/target/debug/deps/manifests-0123abcd");
        assert_eq!(
            beside_profile_dir(exe),
            Path::new("/repo/target/debug/wicket")
        );
    }
}
