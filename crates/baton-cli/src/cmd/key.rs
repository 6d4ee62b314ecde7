//! `baton key`: export the owner identity, rebuild the emergency key from share files.

use baton::vault::Access;

use crate::cli::{self, KeyCmd};
use crate::context::Ctx;
use crate::msg::{self, Result, esc};

pub(crate) fn cmd_key(ctx: &Ctx, k: KeyCmd) -> Result<()> {
    let (text, output) = match k {
        KeyCmd::ExportOwner { output } => {
            let v = ctx.open(Access::Read)?;
            (v.identity_file(), output)
        }
        KeyCmd::FromShares { shares, output } => {
            let path = ctx.vault_path()?;
            let h = baton::vault::read_header(&path)?;
            let (secret, _) = crate::cmd::emergency::collect(
                &h,
                &cli::ShareInput {
                    share_files: shares,
                },
            )?;
            let v = ctx.open_emergency(&secret, Access::Read)?;
            (v.identity_file(), output)
        }
    };
    baton::fs::write_new(&output, text.as_bytes())
        .map_err(|e| msg::output_uncreatable(&output, &e))?;
    eprintln!(
        "wrote identity to {} (mode 0600); delete it when done",
        esc(&output.display().to_string())
    );
    Ok(())
}
