//! Reading a log object as a stream of lines, gzip or plain.
//!
//! Decompression runs on its own thread and hands fixed-size buffers to the
//! caller's thread, which splits them into lines; the two overlap, so the
//! wall time is close to decompression alone. A small pool of buffers
//! circulates between the threads, so memory stays at a few buffers however
//! large the object is.

use std::io::{self, BufRead, BufReader, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use flate2::read::MultiGzDecoder;
use memchr::{memchr, memchr_iter};

/// Decompressed bytes per buffer handed between the threads.
const BUFFER: usize = 256 * 1024;
/// Buffers in circulation: enough for the decoder to run ahead.
const POOL: usize = 4;
/// A longer line is not a WAF record (they are a few KB); it is skipped
/// instead of growing memory without limit.
pub const MAX_LINE: usize = 1024 * 1024;

/// What a scan read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scanned {
    /// Bytes after decompression.
    pub bytes: u64,
    pub lines: u64,
    /// Lines over [`MAX_LINE`], skipped.
    pub overlong: u64,
    pub gzip: bool,
}

/// What `on_line` tells the scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

/// Reads `input` (gzip, detected by its magic bytes, or plain), calling
/// `on_line` for each non-blank line with its number in the object (counting
/// from 1, blank and overlong lines included: the number `sed -n Np` takes)
/// and its bytes without the line ending, or `None` for a line over
/// [`MAX_LINE`], which is skipped. Returns early, without error, when
/// `on_line` says [`Flow::Stop`].
pub fn scan_lines<R: Read + Send>(
    input: R,
    mut on_line: impl FnMut(u64, Option<&[u8]>) -> Flow,
) -> io::Result<Scanned> {
    let (full_tx, full_rx) = sync_channel::<io::Result<Vec<u8>>>(POOL);
    let (empty_tx, empty_rx) = sync_channel::<Vec<u8>>(POOL);
    for _ in 0..POOL {
        empty_tx
            .send(Vec::with_capacity(BUFFER))
            .expect("pool fits");
    }
    std::thread::scope(|scope| {
        let decoder = scope.spawn(move || decode(input, &full_tx, &empty_rx));
        let result = split(&full_rx, &empty_tx, &mut on_line);
        // Dropping the receivers unblocks the decoder if lines stopped early.
        drop(full_rx);
        drop(empty_tx);
        let gzip = decoder
            .join()
            .map_err(|_| io::Error::other("decoder thread panicked"))?;
        result.map(|scanned| Scanned { gzip, ..scanned })
    })
}

fn decode<R: Read>(
    input: R,
    full: &SyncSender<io::Result<Vec<u8>>>,
    empty: &Receiver<Vec<u8>>,
) -> bool {
    let mut input = BufReader::with_capacity(64 * 1024, input);
    let gzip = match input.fill_buf() {
        Ok(head) => head.starts_with(&[0x1f, 0x8b]),
        Err(e) => {
            let _ = full.send(Err(e));
            return false;
        }
    };
    let mut reader: Box<dyn Read> = if gzip {
        Box::new(MultiGzDecoder::new(input))
    } else {
        Box::new(input)
    };
    while let Ok(mut buf) = empty.recv() {
        buf.resize(BUFFER, 0);
        let mut filled = 0;
        let outcome = loop {
            match reader.read(&mut buf[filled..]) {
                Ok(0) => break Ok(true),
                Ok(n) => {
                    filled += n;
                    if filled == buf.len() {
                        break Ok(false);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        buf.truncate(filled);
        match outcome {
            Ok(done) => {
                if !buf.is_empty() && full.send(Ok(buf)).is_err() {
                    return gzip;
                }
                if done {
                    return gzip;
                }
            }
            Err(e) => {
                let _ = full.send(Err(e));
                return gzip;
            }
        }
    }
    gzip
}

fn split(
    full: &Receiver<io::Result<Vec<u8>>>,
    empty: &SyncSender<Vec<u8>>,
    on_line: &mut impl FnMut(u64, Option<&[u8]>) -> Flow,
) -> io::Result<Scanned> {
    let mut scanned = Scanned::default();
    let mut carry: Vec<u8> = Vec::new();
    let mut overlong = false;
    // Every line end moves the number on, so blank and overlong lines keep
    // the numbers of the lines after them equal to the object's.
    let mut number = 0u64;
    let mut emit = |line: Option<&[u8]>, scanned: &mut Scanned| -> Flow {
        number += 1;
        let Some(line) = line else {
            scanned.overlong += 1;
            return on_line(number, None);
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return Flow::Continue;
        }
        scanned.lines += 1;
        on_line(number, Some(line))
    };
    while let Ok(buf) = full.recv() {
        let buf = buf?;
        scanned.bytes += buf.len() as u64;
        let mut start = 0;
        if !carry.is_empty() || overlong {
            match memchr(b'\n', &buf) {
                Some(nl) => {
                    if overlong || carry.len() + nl > MAX_LINE {
                        overlong = false;
                        if emit(None, &mut scanned) == Flow::Stop {
                            return Ok(scanned);
                        }
                    } else {
                        carry.extend_from_slice(&buf[..nl]);
                        if emit(Some(&carry), &mut scanned) == Flow::Stop {
                            return Ok(scanned);
                        }
                    }
                    carry.clear();
                    start = nl + 1;
                }
                None => {
                    if !overlong {
                        carry.extend_from_slice(&buf);
                        if carry.len() > MAX_LINE {
                            overlong = true;
                            carry = Vec::new();
                        }
                    }
                    let _ = empty.send(buf);
                    continue;
                }
            }
        }
        let mut line_start = start;
        for nl in memchr_iter(b'\n', &buf[start..]) {
            let end = start + nl;
            if emit(Some(&buf[line_start..end]), &mut scanned) == Flow::Stop {
                return Ok(scanned);
            }
            line_start = end + 1;
        }
        let rest = &buf[line_start..];
        if rest.len() > MAX_LINE {
            overlong = true;
        } else {
            carry.extend_from_slice(rest);
        }
        // The decoder may have finished; a closed pool is not an error.
        let _ = empty.send(buf);
    }
    if overlong {
        emit(None, &mut scanned);
    } else if !carry.is_empty() {
        emit(Some(&carry), &mut scanned);
    }
    Ok(scanned)
}

/// A blocking [`Read`] over chunks arriving from an async task (an S3 body),
/// so the scan can run on blocking threads while the body downloads.
pub struct ChunkReader<T> {
    rx: tokio::sync::mpsc::Receiver<io::Result<T>>,
    current: T,
    offset: usize,
}

impl<T: AsRef<[u8]> + Default> ChunkReader<T> {
    pub fn new(rx: tokio::sync::mpsc::Receiver<io::Result<T>>) -> Self {
        Self {
            rx,
            current: T::default(),
            offset: 0,
        }
    }
}

impl<T: AsRef<[u8]> + Default> Read for ChunkReader<T> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.offset >= self.current.as_ref().len() {
            match self.rx.blocking_recv() {
                Some(chunk) => {
                    self.current = chunk?;
                    self.offset = 0;
                }
                None => return Ok(0),
            }
        }
        let rest = &self.current.as_ref()[self.offset..];
        let n = rest.len().min(out.len());
        out[..n].copy_from_slice(&rest[..n]);
        self.offset += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn lines_of(input: &[u8]) -> (Vec<String>, Scanned) {
        let mut out = Vec::new();
        let scanned = scan_lines(input, |_, l| {
            if let Some(l) = l {
                out.push(String::from_utf8(l.to_vec()).unwrap());
            }
            Flow::Continue
        })
        .unwrap();
        (out, scanned)
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn plain_and_gzip_give_the_same_lines_across_buffer_edges() {
        let mut text = String::new();
        for i in 0..20_000 {
            text.push_str(&format!("line {i} {}\r\n", "x".repeat(i % 97)));
            if i % 1000 == 0 {
                text.push('\n');
            }
        }
        let (plain, s1) = lines_of(text.as_bytes());
        let (gz, s2) = lines_of(&gzip(text.as_bytes()));
        assert_eq!(plain.len(), 20_000);
        assert_eq!(plain, gz);
        assert_eq!(
            plain[19_999],
            format!("line 19999 {}", "x".repeat(19_999 % 97))
        );
        assert!(!s1.gzip && s2.gzip);
        assert_eq!(s1.bytes, text.len() as u64);
    }

    #[test]
    fn concatenated_gzip_members_are_all_read() {
        let mut data = gzip(b"a\nb\n");
        data.extend(gzip(b"c\nd"));
        assert_eq!(lines_of(&data).0, ["a", "b", "c", "d"]);
    }

    #[test]
    fn an_overlong_line_is_skipped_and_counted() {
        let mut text = b"first\n".to_vec();
        text.extend(std::iter::repeat_n(b'y', MAX_LINE + 10));
        text.extend(b"\nlast\n");
        let (lines, scanned) = lines_of(&text);
        let lengths: Vec<usize> = lines.iter().map(String::len).collect();
        assert_eq!(lengths, [5, 4], "the long line must not be passed on");
        assert_eq!(scanned.overlong, 1);
    }

    #[test]
    fn line_numbers_count_blank_and_overlong_lines_as_the_object_has_them() {
        let mut text = b"a\n\n  \r\n".to_vec();
        text.extend(std::iter::repeat_n(b'y', MAX_LINE + 10));
        text.extend(b"\nb\r\n\nc");
        let mut seen = Vec::new();
        scan_lines(&gzip(&text)[..], |n, l| {
            seen.push((n, l.map(|l| String::from_utf8(l.to_vec()).unwrap())));
            Flow::Continue
        })
        .unwrap();
        assert_eq!(
            seen,
            [
                (1, Some("a".to_owned())),
                (4, None),
                (5, Some("b".to_owned())),
                (7, Some("c".to_owned())),
            ]
        );
    }

    #[test]
    fn a_corrupt_gzip_is_an_error() {
        let mut data = gzip(&b"hello\n".repeat(10_000));
        let n = data.len();
        data[n / 2] ^= 0xff;
        data[n / 2 + 1] ^= 0xff;
        assert!(scan_lines(&data[..], |_, _| Flow::Continue).is_err());
    }

    #[test]
    fn stopping_early_ends_the_scan() {
        let text = b"1\n2\n3\n".repeat(100_000);
        let mut seen = 0;
        scan_lines(&text[..], |_, _| {
            seen += 1;
            if seen == 5 {
                Flow::Stop
            } else {
                Flow::Continue
            }
        })
        .unwrap();
        assert_eq!(seen, 5);
    }
}
