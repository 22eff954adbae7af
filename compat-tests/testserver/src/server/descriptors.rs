//! The L1 descriptor table of one connection: open replicas by index, starting at 3 as on iRODS.

use std::fs::File;
use std::path::PathBuf;

use irods_proto::messages::KeyValPair;

use crate::error::{ApiError, ApiResult, codes};

/// iRODS's `NUM_L1_DESC`.
pub const MAX_DESCRIPTORS: usize = 1026;
const FIRST_DESCRIPTOR: usize = 3;

/// An open replica.
pub struct OpenReplica {
    pub obj_path: String,
    pub data_id: i64,
    pub repl_num: i64,
    pub resc_hier: String,
    pub phys_path: PathBuf,
    pub file: File,
    pub writable: bool,
    /// Whether closing this descriptor finalises the replica (false for parallel-transfer
    /// helpers that joined another connection's open replica with its token).
    pub finalize: bool,
    /// Whether anything was written or truncated (makes other replicas stale on close).
    pub modified: bool,
    pub replica_token: String,
    pub cond_input: KeyValPair,
    pub data_size_hint: i64,
}

#[derive(Default)]
pub struct Descriptors {
    slots: Vec<Option<OpenReplica>>,
}

impl Descriptors {
    /// Stores an open replica and returns its descriptor.
    pub fn insert(&mut self, open: OpenReplica) -> ApiResult<i32> {
        if self.slots.len() < FIRST_DESCRIPTOR {
            self.slots.resize_with(FIRST_DESCRIPTOR, || None);
        }
        let free = (FIRST_DESCRIPTOR..self.slots.len()).find(|&i| self.slots[i].is_none());
        let index = match free {
            Some(index) => index,
            None if self.slots.len() < MAX_DESCRIPTORS => {
                self.slots.push(None);
                self.slots.len() - 1
            }
            None => {
                return Err(ApiError::new(codes::SYS_FILE_DESC_OUT_OF_RANGE, "too many open descriptors"));
            }
        };
        self.slots[index] = Some(open);
        Ok(index as i32)
    }

    fn check(&self, fd: i32) -> ApiResult<usize> {
        if fd < FIRST_DESCRIPTOR as i32 || fd as usize >= MAX_DESCRIPTORS {
            return Err(ApiError::new(
                codes::SYS_FILE_DESC_OUT_OF_RANGE,
                format!("descriptor {fd} out of range"),
            ));
        }
        let index = fd as usize;
        if self.slots.get(index).is_none_or(Option::is_none) {
            return Err(ApiError::new(codes::BAD_INPUT_DESC_INDEX, format!("descriptor {fd} is not open")));
        }
        Ok(index)
    }

    pub fn get_mut(&mut self, fd: i32) -> ApiResult<&mut OpenReplica> {
        let index = self.check(fd)?;
        self.slots[index].as_mut().ok_or_else(|| ApiError::new(codes::BAD_INPUT_DESC_INDEX, "not open"))
    }

    pub fn remove(&mut self, fd: i32) -> ApiResult<OpenReplica> {
        let index = self.check(fd)?;
        self.slots[index].take().ok_or_else(|| ApiError::new(codes::BAD_INPUT_DESC_INDEX, "not open"))
    }

    pub fn take(&mut self, fd: i32) -> Option<OpenReplica> {
        self.remove(fd).ok()
    }

    pub fn open_indexes(&self) -> Vec<i32> {
        (0..self.slots.len()).filter(|&i| self.slots[i].is_some()).map(|i| i as i32).collect()
    }
}
