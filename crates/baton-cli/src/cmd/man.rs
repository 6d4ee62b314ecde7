//! `baton man`: man pages from the flag definitions.

use std::path::PathBuf;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::msg::{self, Result, esc};

pub(crate) fn cmd_man(out_dir: Option<PathBuf>) -> Result<()> {
    let cmd = Cli::command();
    match out_dir {
        None => clap_mangen::Man::new(cmd)
            .render(&mut std::io::stdout())
            .map_err(|e| msg::man_unwritable(&e)),
        Some(dir) => {
            std::fs::create_dir_all(&dir).map_err(|e| msg::dir_uncreatable(&dir, &e))?;
            clap_mangen::generate_to(cmd, &dir).map_err(|e| msg::cannot_write(&dir, &e))?;
            eprintln!("wrote man pages to {}", esc(&dir.display().to_string()));
            Ok(())
        }
    }
}
