//! Descriptor I/O on data objects: open/create, read, write, seek, close, and the replica-token
//! APIs that let several connections write one replica in parallel.

use serde::Deserialize;
use serde_json::json;

use super::connection::Connection;
use super::error::Result;
use crate::codes::api;
use crate::consts::{kw, open_flags::*};
use crate::frame::Packet;
use crate::messages::{BinBytesBuf, DataObjInp, FileLseekOut, KeyValPair, OpenedDataObjInp};

/// python-irodsclient's open modes and the flags they map to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// `r`: read only.
    Read,
    /// `r+`: read and write, no truncation.
    ReadWrite,
    /// `w`: create or truncate, write only.
    Write,
    /// `a`: write at the end, creating the object if needed.
    Append,
    /// `a` with `create=False`: write at the end of an existing object (how the secondary
    /// streams of a parallel upload open the replica).
    AppendExisting,
}

impl OpenMode {
    pub fn flags(self) -> i32 {
        match self {
            OpenMode::Read => O_RDONLY,
            OpenMode::ReadWrite => O_RDWR,
            OpenMode::Write => O_WRONLY | O_CREAT | O_TRUNC,
            OpenMode::Append => O_WRONLY | O_CREAT,
            OpenMode::AppendExisting => O_WRONLY,
        }
    }

    fn positions_at_end(self) -> bool {
        matches!(self, OpenMode::Append | OpenMode::AppendExisting)
    }
}

/// The parts of GET_FILE_DESCRIPTOR_INFO a parallel writer needs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct DescriptorInfo {
    #[serde(default)]
    pub replica_token: String,
    #[serde(default)]
    pub data_object_info: DescriptorObjectInfo,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct DescriptorObjectInfo {
    #[serde(default)]
    pub resource_hierarchy: String,
    #[serde(default)]
    pub object_path: String,
    #[serde(default)]
    pub replica_number: i64,
}

impl Connection {
    /// DATA_OBJ_OPEN with explicit flags; returns the L1 descriptor. `options` may carry
    /// `destRescName`, `dataSize`, `numThreads`, `replicaToken`, `resc_hier`, `regChksum`...
    /// As python-irodsclient does, the default resource is added when no resource is named.
    pub async fn open_flags(&mut self, path: &str, flags: i32, options: KeyValPair) -> Result<i32> {
        let input = self.open_input(path, flags, options);
        Ok(self.call(&Packet::api_request(api::DATA_OBJ_OPEN_AN, &input)).await?.int_info)
    }

    /// DATA_OBJ_OPEN with a python-irodsclient mode; append modes then seek to the end, as
    /// python-irodsclient does.
    pub async fn open(&mut self, path: &str, mode: OpenMode, options: KeyValPair) -> Result<i32> {
        let fd = self.open_flags(path, mode.flags(), options).await?;
        if mode.positions_at_end() {
            self.seek(fd, 0, crate::consts::whence::SEEK_END).await?;
        }
        Ok(fd)
    }

    /// DATA_OBJ_CREATE (mode 0644, data type `generic`); returns the L1 descriptor.
    pub async fn create(&mut self, path: &str, options: KeyValPair) -> Result<i32> {
        let mut options = options;
        if !options.contains(kw::DATA_TYPE) {
            options.set(kw::DATA_TYPE, "generic");
        }
        let mut input = self.open_input(path, 0, options);
        input.create_mode = 0o644;
        Ok(self.call(&Packet::api_request(api::DATA_OBJ_CREATE_AN, &input)).await?.int_info)
    }

    fn open_input(&self, path: &str, flags: i32, mut options: KeyValPair) -> DataObjInp {
        let names_resource =
            [kw::RESC_NAME, kw::DEST_RESC_NAME, kw::RESC_HIER].iter().any(|k| options.contains(k));
        if !names_resource && let Some(default) = self.default_resource() {
            options.set(kw::DEST_RESC_NAME, default);
        }
        // Servers >= 4.3.1 read -1 as "size unknown"; a dataSize keyword states it.
        let unknown = if self.server_at_least(&[4, 3, 1]) { -1 } else { 0 };
        let data_size = options.get(kw::DATA_SIZE).and_then(|s| s.parse().ok()).unwrap_or(unknown);
        DataObjInp { open_flags: flags, data_size, cond_input: options, ..DataObjInp::new(path) }
    }

    /// DATA_OBJ_READ of up to `len` bytes at the current position; empty at end of file.
    pub async fn read(&mut self, fd: i32, len: usize) -> Result<Vec<u8>> {
        let input = OpenedDataObjInp {
            l1_desc_inx: fd,
            len: len.min(i32::MAX as usize) as i32,
            ..Default::default()
        };
        let reply = self.call(&Packet::api_request(api::DATA_OBJ_READ_AN, &input)).await?;
        let mut data = reply.bs;
        data.truncate(reply.int_info.max(0) as usize);
        Ok(data)
    }

    /// DATA_OBJ_WRITE at the current position; returns the bytes written.
    pub async fn write(&mut self, fd: i32, data: &[u8]) -> Result<usize> {
        let input = OpenedDataObjInp { l1_desc_inx: fd, len: data.len() as i32, ..Default::default() };
        let packet = Packet::api_request(api::DATA_OBJ_WRITE_AN, &input).with_bs(data.to_vec());
        Ok(self.call(&packet).await?.int_info as usize)
    }

    /// DATA_OBJ_LSEEK; returns the new absolute position.
    pub async fn seek(&mut self, fd: i32, offset: i64, whence: i32) -> Result<i64> {
        let input = OpenedDataObjInp { l1_desc_inx: fd, offset, whence, ..Default::default() };
        let reply = self.call(&Packet::api_request(api::DATA_OBJ_LSEEK_AN, &input)).await?;
        Ok(reply.decode_body::<FileLseekOut>()?.offset)
    }

    /// DATA_OBJ_CLOSE: finalizes the replica (size, status, checksum if asked at open).
    pub async fn close(&mut self, fd: i32, options: KeyValPair) -> Result<()> {
        let input = OpenedDataObjInp { l1_desc_inx: fd, cond_input: options, ..Default::default() };
        self.call(&Packet::api_request(api::DATA_OBJ_CLOSE_AN, &input)).await?;
        Ok(())
    }

    /// REPLICA_CLOSE (20004) without finalizing the catalog: how secondary parallel streams end.
    pub async fn replica_close(&mut self, fd: i32, finalize: bool) -> Result<()> {
        let input = json!({
            "fd": fd,
            // python-irodsclient spells it without the s; the server reads the plural.
            "send_notification": finalize,
            "send_notifications": finalize,
            "update_size": finalize,
            "update_status": finalize,
            "compute_checksum": false,
        });
        self.call(&Packet::api_request(api::REPLICA_CLOSE_APN, &BinBytesBuf::from_json(&input))).await?;
        Ok(())
    }

    /// GET_FILE_DESCRIPTOR_INFO (20000): the replica token and hierarchy of an open descriptor.
    pub async fn descriptor_info(&mut self, fd: i32) -> Result<DescriptorInfo> {
        let value = self.call_json(api::GET_FILE_DESCRIPTOR_INFO_APN, &json!({"fd": fd})).await?;
        serde_json::from_value(value)
            .map_err(|e| crate::DecodeError::BadJson { field: "buf".into(), reason: e.to_string() }.into())
    }
}
