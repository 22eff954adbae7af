//! Administration: users, groups and resources (701 GENERAL_ADMIN, 714 USER_ADMIN), access
//! control (707), and the one rule PRC's tests run (625 with `msiSleep`).

use irods_proto::Packet;
use irods_proto::messages::{ExecMyRuleInp, GeneralAdminInp, ModAccessControlInp, RuleExecDelInp};
use rusqlite::params;

use super::data::locate;
use super::session::{Session, decode, ok};
use crate::catalog::{access, collections, metadata, now_ts, paths, resources, users};
use crate::error::{ApiError, ApiResult, codes};
use crate::password;

fn split_user(name: &str, default_zone: &str) -> (String, String) {
    match name.split_once('#') {
        Some((user, zone)) if !zone.is_empty() => (user.to_string(), zone.to_string()),
        Some((user, _)) => (user.to_string(), default_zone.to_string()),
        None => (name.to_string(), default_zone.to_string()),
    }
}

impl Session {
    fn require_admin(&self) -> ApiResult<()> {
        if self.user()?.is_admin() {
            Ok(())
        } else {
            Err(ApiError::new(codes::CAT_INSUFFICIENT_PRIVILEGE_LEVEL, "this needs a rodsadmin"))
        }
    }

    /// 701.
    pub(super) fn general_admin(&mut self, packet: &Packet) -> ApiResult<Packet> {
        let input: GeneralAdminInp = decode(packet)?;
        let a: Vec<String> = input.args.to_vec();
        let zone = self.zone().to_string();
        let host = self.state.catalog.host.clone();
        let data_dir = self.state.catalog.data_dir.clone();
        let (admin_password, signature) = (self.auth_password.clone(), self.session_signature.clone());
        self.require_admin()?;
        self.state.catalog.write(|db| match (a[0].as_str(), a[1].as_str()) {
            ("add", "user") => {
                let (name, user_zone) = split_user(&a[2], if a[4].is_empty() { &zone } else { &a[4] });
                let kind = if a[3].is_empty() { "rodsuser" } else { a[3].as_str() };
                users::create_user(db, &name, kind, &user_zone).map(|_| ())
            }
            ("add", "group") => {
                let (name, user_zone) = split_user(&a[2], &zone);
                users::create_user(db, &name, "rodsgroup", &user_zone).map(|_| ())
            }
            ("rm", "user") | ("rm", "group") => {
                let (name, user_zone) = split_user(&a[2], if a[3].is_empty() { &zone } else { &a[3] });
                let user = users::require(db, &name, &user_zone)?;
                users::remove(db, &user)
            }
            ("modify", "user") => {
                let (name, user_zone) = split_user(&a[2], if a[5].is_empty() { &zone } else { &a[5] });
                let user = users::require(db, &name, &user_zone)?;
                match a[3].as_str() {
                    "password" => {
                        let plain = password::decode_v2(&a[4], &admin_password, &signature);
                        users::set_password(db, user.id, &plain)
                    }
                    field => users::modify(db, &user, field, &a[4]),
                }
            }
            ("modify", "group") => {
                let group = users::require(db, &a[2], &zone)?;
                let (name, user_zone) = split_user(&a[4], if a[5].is_empty() { &zone } else { &a[5] });
                let member = users::require(db, &name, &user_zone)?;
                match a[3].as_str() {
                    "add" => users::add_to_group(db, group.id, member.id),
                    "remove" => users::remove_from_group(db, group.id, member.id),
                    other => Err(ApiError::new(codes::CAT_INVALID_ARGUMENT, format!("modify group {other}"))),
                }
            }
            ("add", "resource") => {
                let (name, kind, location, context) = (&a[2], &a[3], &a[4], &a[5]);
                let (res_host, vault) = match location.split_once(':') {
                    Some((h, v)) => (h.to_string(), v.to_string()),
                    None if location.is_empty() => (host.clone(), String::new()),
                    None => (location.to_string(), String::new()),
                };
                let vault = if vault.is_empty() && ["unixfilesystem"].contains(&kind.as_str()) {
                    data_dir.join(format!("{name}_vault")).to_string_lossy().into_owned()
                } else {
                    vault
                };
                resources::create(
                    db,
                    name,
                    kind,
                    if res_host.is_empty() { &host } else { &res_host },
                    &vault,
                    context,
                )
                .map(|_| ())
            }
            ("rm", "resource") => resources::remove(db, &a[2]),
            ("modify", "resource") => {
                let value = if a[3] == "name" {
                    return Err(ApiError::new(codes::SYS_NOT_SUPPORTED, "resource rename"));
                } else {
                    &a[4]
                };
                resources::modify(db, &a[2], &a[3], value)
            }
            ("add", "childtoresc") => resources::add_child(db, &a[2], &a[3], &a[4]),
            ("rm", "childfromresc") => resources::remove_child(db, &a[2], &a[3]),
            ("rm", "unusedAVUs") => metadata::remove_unused(db).map(|_| ()),
            ("set-quota", _) | ("calculate-usage", _) => Ok(()),
            ("add", "specificQuery") => {
                let taken: i64 = db.query_row(
                    "SELECT count(*) FROM r_specific_query WHERE alias = ?1 OR ?1 IN ('ls', 'lsl')",
                    [&a[3]],
                    |r| r.get(0),
                )?;
                if taken > 0 {
                    return Err(ApiError::new(codes::CAT_INVALID_ARGUMENT, "Alias is not unique"));
                }
                db.execute(
                    "INSERT INTO r_specific_query (alias, sqlstr, create_ts) VALUES (?1, ?2, ?3)",
                    params![a[3], a[2], now_ts()],
                )?;
                Ok(())
            }
            ("rm", "specificQuery") => {
                let removed =
                    db.execute("DELETE FROM r_specific_query WHERE alias = ?1 OR sqlstr = ?1", [&a[2]])?;
                if removed == 0 {
                    return Err(ApiError::new(codes::CAT_UNKNOWN_SPECIFIC_QUERY, "no such specific query"));
                }
                Ok(())
            }
            (verb, noun) => Err(ApiError::new(
                codes::SYS_NOT_SUPPORTED,
                format!("general admin '{verb} {noun}' is not supported"),
            )),
        })?;
        ok(0)
    }

    /// 714: `mkuser` (create with password) and `userpw` (own password change).
    pub(super) fn user_admin(&mut self, packet: &Packet) -> ApiResult<Packet> {
        let input: GeneralAdminInp = decode(packet)?;
        let a: Vec<String> = input.args.to_vec();
        let zone = self.zone().to_string();
        let me = self.user()?.clone();
        let (admin_password, signature) = (self.auth_password.clone(), self.session_signature.clone());
        match a[0].as_str() {
            "mkuser" => {
                self.require_admin()?;
                let (name, user_zone) = split_user(&a[1], &zone);
                self.state.catalog.write(|db| {
                    let id = users::create_user(db, &name, "rodsuser", &user_zone)?;
                    if !a[2].is_empty() {
                        users::set_password(db, id, &password::decode_with_key(&a[2], &admin_password))?;
                    }
                    Ok(())
                })?;
            }
            "userpw" => {
                if a[1] != me.name && !me.is_admin() {
                    return Err(ApiError::new(
                        codes::CAT_INSUFFICIENT_PRIVILEGE_LEVEL,
                        "only your own password",
                    ));
                }
                let plain = password::decode_v2(&a[3], &admin_password, &signature);
                self.state.catalog.write(|db| {
                    let user = users::require(db, &a[1], &zone)?;
                    users::set_password(db, user.id, &plain)
                })?;
            }
            other => return Err(ApiError::new(codes::SYS_NOT_SUPPORTED, format!("user admin '{other}'"))),
        }
        ok(0)
    }

    /// 707: `modAccessControlInp_PI` = int recursiveFlag; str *accessLevel; str *userName;
    /// str *zone; str *path. Grants (`read`, `write`, `own`, `null` to revoke) on one object or
    /// collection (recursively when asked). `inherit`/`noinherit` are accepted and ignored.
    pub(super) fn mod_access_control(&mut self, packet: &Packet) -> ApiResult<Packet> {
        let input: ModAccessControlInp = decode(packet)?;
        let recursive = input.recursive_flag != 0;
        let level = input.access_level.trim_start_matches("admin:");
        let path = paths::normalize(&input.path)?;
        let user_name = input.user_name.clone();
        let zone = if input.zone.is_empty() { self.zone().to_string() } else { input.zone.clone() };
        if matches!(level, "inherit" | "noinherit") {
            return ok(0);
        }
        let access_id: Option<i64> = match level {
            "null" | "remove" => None,
            "read" | "read_object" => Some(1050),
            "write" | "modify_object" => Some(1120),
            "own" => Some(1200),
            other => {
                return Err(ApiError::new(
                    codes::CAT_INVALID_ARGUMENT,
                    format!("unknown access level {other}"),
                ));
            }
        };
        let me = self.user()?.clone();
        self.state.catalog.write(|db| {
            let user = users::require(db, &user_name, &zone)?;
            let mut ids = Vec::new();
            if let Some(coll) = collections::find(db, &path)? {
                ids.push(coll.id);
                if recursive {
                    let mut stmt = db.prepare(
                        "SELECT coll_id FROM r_coll_main WHERE substr(coll_name, 1, length(?1) + 1) = ?1 || '/'",
                    )?;
                    ids.extend(stmt.query_map([&path], |r| r.get::<_, i64>(0))?.collect::<Result<Vec<_>, _>>()?);
                    let mut stmt = db.prepare(
                        "SELECT DISTINCT d.data_id FROM r_data_main d JOIN r_coll_main c ON c.coll_id = d.coll_id
                         WHERE c.coll_name = ?1 OR substr(c.coll_name, 1, length(?1) + 1) = ?1 || '/'",
                    )?;
                    ids.extend(stmt.query_map([&path], |r| r.get::<_, i64>(0))?.collect::<Result<Vec<_>, _>>()?);
                }
            } else {
                let located = locate(db, &path)?;
                let first = located
                    .replicas
                    .first()
                    .ok_or_else(|| ApiError::new(codes::CAT_UNKNOWN_FILE, format!("{path} does not exist")))?;
                ids.push(first.data_id);
            }
            // Only an owner (or an administrator) changes permissions.
            for &id in ids.iter().take(1) {
                access::require(db, &me, id, access::OWN, &path)?;
            }
            for id in ids {
                match access_id {
                    Some(access) => {
                        db.execute(
                            "INSERT OR REPLACE INTO r_objt_access (object_id, user_id, access_type_id, create_ts, modify_ts)
                             VALUES (?1, ?2, ?3, ?4, ?4)",
                            params![id, user.id, access, now_ts()],
                        )?;
                    }
                    None => {
                        db.execute("DELETE FROM r_objt_access WHERE object_id = ?1 AND user_id = ?2", params![id, user.id])?;
                    }
                }
            }
            Ok(())
        })?;
        ok(0)
    }

    /// EXEC_MY_RULE (625). No rule engine runs here; two forms PRC's tests use are understood:
    /// `msiSleep('<seconds>','<microseconds>')` makes the server take a while, and a rule holding
    /// `delay('<EF>...</EF>') { ... }` is queued in the rule-exec table (never run) so it can be
    /// queried and removed. Anything else is SYS_NOT_SUPPORTED.
    pub(super) fn exec_my_rule(&mut self, packet: &Packet) -> ApiResult<Packet> {
        let rule = decode::<ExecMyRuleInp>(packet)?.my_rule;
        if rule.contains("delay(") {
            let frequency = rule
                .split_once("<EF>")
                .and_then(|(_, rest)| rest.split_once("</EF>"))
                .map(|(f, _)| f.to_string())
                .unwrap_or_default();
            let user = self.user()?.name.clone();
            self.state.catalog.write(|db| {
                let id = crate::catalog::new_object_id(db)?;
                db.execute(
                    "INSERT INTO r_rule_exec (rule_exec_id, rule_name, user_name, exe_time, exe_frequency)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![id, rule, user, now_ts(), frequency],
                )?;
                Ok(())
            })?;
            return ok(0);
        }
        let Some(args) = rule.split_once("msiSleep(").and_then(|(_, r)| r.split(')').next()) else {
            return Err(ApiError::new(
                codes::SYS_NOT_SUPPORTED,
                "rules are not supported (only msiSleep and delay)",
            ));
        };
        let numbers: Vec<u64> = args
            .split(',')
            .map(|p| p.trim().trim_matches(|c| c == '\'' || c == '"').parse().unwrap_or(0))
            .collect();
        let seconds = numbers.first().copied().unwrap_or(0).min(600);
        let micros = numbers.get(1).copied().unwrap_or(0).min(999_999);
        std::thread::sleep(
            std::time::Duration::from_secs(seconds) + std::time::Duration::from_micros(micros),
        );
        ok(0)
    }

    /// 624: removes a queued delayed rule (`RULE_EXEC_DEL_INP_PI` = str ruleExecId).
    pub(super) fn rule_exec_del(&mut self, packet: &Packet) -> ApiResult<Packet> {
        let input: RuleExecDelInp = decode(packet)?;
        let id: i64 = input
            .rule_exec_id
            .trim()
            .parse()
            .map_err(|_| ApiError::new(codes::SYS_INVALID_INPUT_PARAM, "ruleExecId is not a number"))?;
        let removed = self
            .state
            .catalog
            .write(|db| Ok(db.execute("DELETE FROM r_rule_exec WHERE rule_exec_id = ?1", [id])?))?;
        if removed == 0 {
            return Err(ApiError::new(codes::CAT_NO_ROWS_FOUND, format!("no delayed rule {id}")));
        }
        ok(0)
    }
}
