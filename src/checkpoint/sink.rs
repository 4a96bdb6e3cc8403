//! Sequential file output that bypasses the page cache when the filesystem allows it.
//!
//! Buffered writes of a multi-GB shard spend most of their time allocating page-cache pages
//! (measured: 0.86 GB/s buffered vs 2.0 GB/s with `O_DIRECT` for 512 MiB on the development
//! VM). `DirectFile` stages data in a 4 KiB-aligned buffer and writes whole aligned blocks
//! with `O_DIRECT`; the last partial block is padded and the file truncated to its true
//! length. Filesystems without `O_DIRECT` (tmpfs) fall back to ordinary buffered writes.

use std::alloc::{alloc, dealloc, Layout};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;

const ALIGN: usize = 4096;
const STAGE: usize = 8 << 20;

/// An output file opened for sequential writing.
pub enum Sink {
    /// `O_DIRECT` with an aligned staging buffer.
    Direct(DirectFile),
    /// Ordinary buffered writes.
    Buffered(BufWriter<File>),
}

impl Sink {
    /// Creates `path`, with `O_DIRECT` when the filesystem supports it.
    pub fn create(path: &Path) -> std::io::Result<Sink> {
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::fs::OpenOptionsExt;
            if let Ok(f) = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .custom_flags(libc::O_DIRECT)
                .open(path)
            {
                return Ok(Sink::Direct(DirectFile::new(f)));
            }
        }
        Ok(Sink::Buffered(BufWriter::with_capacity(
            1 << 20,
            File::create(path)?,
        )))
    }

    /// Appends `data`.
    pub fn write_all(&mut self, data: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::Direct(d) => d.write_all(data),
            Sink::Buffered(b) => b.write_all(data),
        }
    }

    /// Flushes everything and closes the file.
    pub fn finish(self) -> std::io::Result<()> {
        match self {
            Sink::Direct(d) => d.finish(),
            Sink::Buffered(b) => b.into_inner().map_err(|e| e.into_error()).map(drop),
        }
    }
}

/// `O_DIRECT` writer: whole aligned blocks from an aligned staging buffer.
pub struct DirectFile {
    file: File,
    buf: *mut u8,
    filled: usize,
    written: u64,
}

// SAFETY: the staging buffer is owned exclusively by this value.
unsafe impl Send for DirectFile {}

impl DirectFile {
    fn new(file: File) -> DirectFile {
        // SAFETY: non-zero size, power-of-two alignment.
        let buf = unsafe { alloc(Self::layout()) };
        assert!(!buf.is_null(), "allocating the 8 MiB write buffer failed");
        DirectFile {
            file,
            buf,
            filled: 0,
            written: 0,
        }
    }

    fn layout() -> Layout {
        Layout::from_size_align(STAGE, ALIGN).expect("valid layout")
    }

    fn stage(&mut self) -> &mut [u8] {
        // SAFETY: `buf` points to STAGE bytes owned by self.
        unsafe { std::slice::from_raw_parts_mut(self.buf, STAGE) }
    }

    fn write_all(&mut self, mut data: &[u8]) -> std::io::Result<()> {
        while !data.is_empty() {
            let n = (STAGE - self.filled).min(data.len());
            let at = self.filled;
            self.stage()[at..at + n].copy_from_slice(&data[..n]);
            self.filled += n;
            data = &data[n..];
            if self.filled == STAGE {
                self.flush_blocks(STAGE)?;
                self.filled = 0;
            }
        }
        Ok(())
    }

    fn flush_blocks(&mut self, len: usize) -> std::io::Result<()> {
        // SAFETY: `buf` points to STAGE ≥ len bytes owned by self.
        let block = unsafe { std::slice::from_raw_parts(self.buf, len) };
        self.file.write_all(block)?;
        self.written += len as u64;
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<()> {
        let true_len = self.written + self.filled as u64;
        if self.filled > 0 {
            let padded = self.filled.div_ceil(ALIGN) * ALIGN;
            let filled = self.filled;
            self.stage()[filled..padded].fill(0);
            self.flush_blocks(padded)?;
        }
        self.file.set_len(true_len)
    }
}

impl Drop for DirectFile {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with the same layout.
        unsafe { dealloc(self.buf, Self::layout()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_exact_bytes_of_unaligned_length() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let data: Vec<u8> = (0..(STAGE + 12_345))
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        let mut s = Sink::create(&p).unwrap();
        s.write_all(&data[..100]).unwrap();
        s.write_all(&data[100..]).unwrap();
        s.finish().unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), data);
    }
}
