//! The catalog: a SQLite database under the data directory holding zones, users, resources,
//! collections, data objects (one row per replica), metadata and access rows.
//!
//! One connection behind a mutex serves every client connection. Catalog operations are short
//! (no file I/O of any size happens while the lock is held), so a single writer is simpler than a
//! pool and still sustains thousands of operations per second.

pub mod access;
pub mod collections;
pub mod data_objects;
pub mod metadata;
pub mod paths;
pub mod resources;
mod schema;
pub mod users;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::error::ApiResult;

/// The zone every catalog serves.
pub const ZONE: &str = "tempZone";
/// The administrator created on first start.
pub const ADMIN_USER: &str = "rods";
pub const ADMIN_PASSWORD: &str = "rods";
/// The root resource created on first start, the default for clients.
pub const DEFAULT_RESOURCE: &str = "demoResc";

/// The current time as iRODS stores it: 11-digit zero-padded epoch seconds.
pub fn now_ts() -> String {
    let seconds = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    format!("{seconds:011}")
}

/// The shared catalog.
pub struct Catalog {
    db: Mutex<Connection>,
    /// The host name resources report as their location.
    pub host: String,
    /// Where the database, the default vault and new resources' vaults live.
    pub data_dir: PathBuf,
}

impl Catalog {
    /// Opens (creating on first use) the catalog in `data_dir` and makes sure the zone, the admin,
    /// the default resource and the standard collections exist.
    pub fn open(data_dir: &Path, host: &str) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
        let data_dir = data_dir.canonicalize()?;
        let db = Connection::open(data_dir.join("catalog.sqlite"))?;
        db.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA case_sensitive_like = ON;
             PRAGMA foreign_keys = OFF;",
        )?;
        db.execute_batch(schema::SCHEMA)?;
        let catalog = Catalog { db: Mutex::new(db), host: host.to_string(), data_dir };
        catalog
            .write(|tx| catalog.bootstrap(tx))
            .map_err(|e| anyhow::anyhow!("bootstrapping catalog: {e}"))?;
        Ok(catalog)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A handler that panicked mid-operation rolled its transaction back when the
        // transaction was dropped, so the connection is still usable.
        self.db.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs read-only work.
    pub fn read<T>(&self, work: impl FnOnce(&Connection) -> ApiResult<T>) -> ApiResult<T> {
        let db = self.lock();
        work(&db)
    }

    /// Runs work in a transaction committed only if it succeeds.
    pub fn write<T>(&self, work: impl FnOnce(&Transaction<'_>) -> ApiResult<T>) -> ApiResult<T> {
        let mut db = self.lock();
        let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = work(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    /// The vault of the default resource.
    pub fn default_vault(&self) -> PathBuf {
        self.data_dir.join("Vault")
    }

    fn bootstrap(&self, db: &Connection) -> ApiResult<()> {
        let have_zone: i64 = db.query_row("SELECT count(*) FROM r_zone_main", [], |r| r.get(0))?;
        if have_zone > 0 {
            return Ok(());
        }
        let now = now_ts();
        for (id, name) in schema::ACCESS_TYPES {
            db.execute(
                "INSERT INTO r_tokn_main (token_namespace, token_id, token_name) VALUES ('access_type', ?1, ?2)",
                rusqlite::params![id, name],
            )?;
        }
        let zone_id = new_object_id(db)?;
        db.execute(
            "INSERT INTO r_zone_main (zone_id, zone_name, zone_type_name, create_ts, modify_ts)
             VALUES (?1, ?2, 'local', ?3, ?3)",
            rusqlite::params![zone_id, ZONE, now],
        )?;
        for dir in ["/", "/tempZone", "/tempZone/home", "/tempZone/trash", "/tempZone/trash/home"] {
            collections::insert_row(db, dir, ADMIN_USER, ZONE)?;
        }
        let public = users::insert_user(db, "public", "rodsgroup", ZONE)?;
        users::insert_user(db, "rodsadmin", "rodsgroup", ZONE)?;
        let rods = users::create_user(db, ADMIN_USER, "rodsadmin", ZONE)?;
        users::set_password(db, rods, ADMIN_PASSWORD)?;
        users::add_to_group(db, public, rods)?;
        collections::insert_row(db, "/tempZone/home/public", ADMIN_USER, ZONE)?;
        collections::insert_row(db, "/tempZone/trash/home/public", ADMIN_USER, ZONE)?;
        // Specific queries a fresh iRODS catalog carries (aliases as in iRODS; SQL written for
        // this schema).
        for (alias, sql) in [
            ("listQueryByAliasLike", "SELECT alias, sqlstr FROM r_specific_query WHERE alias LIKE ?"),
            ("findQueryByAlias", "SELECT alias, sqlstr FROM r_specific_query WHERE alias = ?"),
            (
                "ilsLACollections",
                "SELECT c.parent_coll_name, c.coll_name, c.create_ts, c.modify_ts, c.coll_id, c.coll_owner_name, \
                 c.coll_owner_zone, c.coll_type, u.user_name, u.zone_name, a.access_type_id, u.user_id \
                 FROM r_coll_main c JOIN r_objt_access a ON a.object_id = c.coll_id \
                 JOIN r_user_main u ON u.user_id = a.user_id WHERE c.parent_coll_name = ? \
                 ORDER BY c.coll_name, u.user_name, a.access_type_id DESC LIMIT ? OFFSET ?",
            ),
            (
                "ilsLADataObjects",
                "SELECT c.coll_name, d.data_name, d.create_ts, d.modify_ts, d.data_id, d.data_size, d.data_repl_num, \
                 d.data_owner_name, d.data_owner_zone, u.user_name, u.user_id, a.access_type_id, u.user_type_name, \
                 u.zone_name FROM r_coll_main c JOIN r_data_main d ON d.coll_id = c.coll_id \
                 JOIN r_objt_access a ON a.object_id = d.data_id JOIN r_user_main u ON u.user_id = a.user_id \
                 WHERE c.coll_name = ? ORDER BY c.coll_name, d.data_name, u.user_name, a.access_type_id DESC \
                 LIMIT ? OFFSET ?",
            ),
        ] {
            db.execute(
                "INSERT INTO r_specific_query (alias, sqlstr, create_ts) VALUES (?1, ?2, ?3)",
                rusqlite::params![alias, sql, now],
            )?;
        }
        let vault = self.default_vault();
        std::fs::create_dir_all(&vault).map_err(|e| {
            crate::error::ApiError::unix(crate::error::codes::UNIX_FILE_MKDIR_ERR, &e, vault.display())
        })?;
        resources::create(db, DEFAULT_RESOURCE, "unixfilesystem", &self.host, &vault.to_string_lossy(), "")?;
        Ok(())
    }
}

/// A fresh id from the catalog-wide object id sequence.
pub fn new_object_id(db: &Connection) -> ApiResult<i64> {
    db.execute("INSERT INTO r_objectid DEFAULT VALUES", [])?;
    let id = db.last_insert_rowid() + 10000;
    db.execute("DELETE FROM r_objectid WHERE id < ?1", [db.last_insert_rowid()])?;
    Ok(id)
}
