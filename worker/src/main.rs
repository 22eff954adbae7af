//! `irods-ingest`: the Rust worker and `irods_sync` replacement.

fn main() -> anyhow::Result<()> {
    anyhow::bail!("irods-ingest: not implemented yet")
}
