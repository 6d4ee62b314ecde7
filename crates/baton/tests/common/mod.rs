//! Helpers shared by the library's integration tests.

use std::fs;
use std::path::Path;

/// Copies a folder tree (a vault) file by file.
pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for d in fs::read_dir(from).unwrap() {
        let d = d.unwrap();
        if d.file_type().unwrap().is_dir() {
            copy_tree(&d.path(), &to.join(d.file_name()));
        } else {
            fs::copy(d.path(), to.join(d.file_name())).unwrap();
        }
    }
}
