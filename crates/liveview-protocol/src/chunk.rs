//! The binary frame that carries one piece of an upload (client → server).
//!
//! A chunk is a binary WebSocket frame: the upload id (`u32`, big endian),
//! the offset of the data in the file (`u64`, big endian), then at most
//! [`MAX_CHUNK_BYTES`] of data. See `docs/uploads.md`.

/// Bytes of a chunk's header: upload id (4) and offset (8).
pub const CHUNK_HEADER_BYTES: usize = 12;

/// The most data one chunk may carry.
pub const MAX_CHUNK_BYTES: usize = 64 * 1024;

/// One upload chunk, borrowed from the frame it arrived in.
///
/// ```
/// use liveview_protocol::Chunk;
///
/// let frame = Chunk::encode(7, 65536, b"data");
/// let chunk = Chunk::parse(&frame).expect("a chunk");
/// assert_eq!((chunk.id, chunk.offset, chunk.data), (7, 65536, &b"data"[..]));
/// assert!(Chunk::parse(b"short").is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk<'a> {
    /// The upload it belongs to.
    pub id: u32,
    /// Where its data goes in the file.
    pub offset: u64,
    /// The data.
    pub data: &'a [u8],
}

impl<'a> Chunk<'a> {
    /// Reads a chunk; `None` when the frame is shorter than the header.
    pub fn parse(frame: &'a [u8]) -> Option<Chunk<'a>> {
        let (header, data) = frame.split_first_chunk::<CHUNK_HEADER_BYTES>()?;
        let (id, offset) = header.split_first_chunk::<4>()?;
        let offset: [u8; 8] = offset.try_into().ok()?;
        Some(Chunk {
            id: u32::from_be_bytes(*id),
            offset: u64::from_be_bytes(offset),
            data,
        })
    }

    /// The binary frame of a chunk (for clients and tests).
    pub fn encode(id: u32, offset: u64, data: &[u8]) -> Vec<u8> {
        let mut frame = Vec::with_capacity(CHUNK_HEADER_BYTES + data.len());
        frame.extend_from_slice(&id.to_be_bytes());
        frame.extend_from_slice(&offset.to_be_bytes());
        frame.extend_from_slice(data);
        frame
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_big_endian() {
        let frame = Chunk::encode(0x0102_0304, 0x0506_0708_090a_0b0c, b"x");
        assert_eq!(&frame[..12], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        let empty = Chunk::parse(&frame[..12]).expect("header only");
        assert!(empty.data.is_empty());
        assert!(Chunk::parse(&frame[..11]).is_none());
    }
}
