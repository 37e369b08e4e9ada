//! Reading a log object as a stream of lines, gzip or plain.
//!
//! With [`Threads::Two`], decompression runs on its own thread and hands
//! fixed-size buffers to the caller's thread, which splits them into lines;
//! the two overlap, so the wall time is close to decompression alone. A
//! small pool of buffers circulates between the threads, so memory stays at
//! a few buffers however large the object is. With [`Threads::One`], the
//! caller's thread decompresses a buffer and then scans it: with a single
//! CPU (or less, as Lambda gives below 1,769 MB) a second thread cannot run
//! alongside, and the hand-offs between the two only add work.

use std::io::{self, BufReader, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use flate2::bufread::MultiGzDecoder;
use memchr::{memchr, memchr_iter};

/// Decompressed bytes per buffer handed between the threads.
const BUFFER: usize = 256 * 1024;
/// Buffers in circulation: enough for the decoder to run ahead.
const POOL: usize = 4;
/// Decompressed bytes per buffer on one thread. The inflater copies up to
/// its 32 KB window out of every buffer it fills, so a 64 KB buffer copied
/// half of all it inflated again (four times the copying of a bare inflate
/// into 256 KB); 256 KB copies an eighth, and still sits in a core's L2
/// cache when its lines are scanned (neither size fits in L1).
const BUFFER_ONE_THREAD: usize = 256 * 1024;
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

/// How many threads a scan uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threads {
    /// Decompress and scan in turn on the caller's thread: the least CPU
    /// time in all.
    One,
    /// Decompress on a thread of its own while the caller's thread scans:
    /// the least wall time when two CPUs are there to run them.
    Two,
}

impl Threads {
    /// Lambda gives a function one vCPU's worth of time at 1,769 MB, in
    /// proportion below it; a second thread only helps above it.
    pub const LAMBDA_ONE_VCPU_MB: u64 = 1769;

    /// For a Lambda function of `memory_mb` (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`);
    /// outside Lambda (`None`), by the CPUs this process may use.
    pub fn for_memory(memory_mb: Option<u64>) -> Self {
        let more_than_one_cpu = match memory_mb {
            Some(mb) => mb > Self::LAMBDA_ONE_VCPU_MB,
            None => std::thread::available_parallelism().is_ok_and(|n| n.get() > 1),
        };
        if more_than_one_cpu {
            Self::Two
        } else {
            Self::One
        }
    }
}

/// Reads `input` (gzip, detected by its magic bytes, or plain), calling
/// `on_line` for each non-blank line with its number in the object (counting
/// from 1, blank and overlong lines included: the number `sed -n Np` takes)
/// and its bytes without the line ending, or `None` for a line over
/// [`MAX_LINE`], which is skipped. Returns early, without error, when
/// `on_line` says [`Flow::Stop`]. Decompresses on a second thread
/// ([`Threads::Two`]).
pub fn scan_lines<R: Read + Send>(
    input: R,
    on_line: impl FnMut(u64, Option<&[u8]>) -> Flow,
) -> io::Result<Scanned> {
    scan_lines_with(input, Threads::Two, on_line)
}

/// [`scan_lines`] on one thread or two.
pub fn scan_lines_with<R: Read + Send>(
    input: R,
    threads: Threads,
    mut on_line: impl FnMut(u64, Option<&[u8]>) -> Flow,
) -> io::Result<Scanned> {
    match threads {
        Threads::One => scan_on_one_thread(input, &mut on_line),
        Threads::Two => scan_on_two_threads(input, &mut on_line),
    }
}

fn scan_on_one_thread<R: Read>(
    input: R,
    on_line: &mut impl FnMut(u64, Option<&[u8]>) -> Flow,
) -> io::Result<Scanned> {
    let (mut reader, gzip) = open(input)?;
    let mut splitter = Splitter::default();
    let mut buf = vec![0; BUFFER_ONE_THREAD];
    loop {
        let (filled, done) = fill(&mut reader, &mut buf)?;
        if splitter.feed(&buf[..filled], on_line) == Flow::Stop {
            return Ok(Scanned {
                gzip,
                ..splitter.scanned
            });
        }
        if done {
            return Ok(Scanned {
                gzip,
                ..splitter.finish(on_line)
            });
        }
    }
}

fn scan_on_two_threads<R: Read + Send>(
    input: R,
    on_line: &mut impl FnMut(u64, Option<&[u8]>) -> Flow,
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
        let result = split(&full_rx, &empty_tx, on_line);
        // Dropping the receivers unblocks the decoder if lines stopped early.
        drop(full_rx);
        drop(empty_tx);
        let gzip = decoder
            .join()
            .map_err(|_| io::Error::other("decoder thread panicked"))?;
        result.map(|scanned| Scanned { gzip, ..scanned })
    })
}

/// The decompressed stream of `input`, and whether it is gzip.
fn open<'r, R: Read + 'r>(mut input: R) -> io::Result<(Box<dyn Read + 'r>, bool)> {
    // The magic is read whole before deciding: a network body may hand over
    // its first byte alone, and a gzip object read as text would count
    // nothing, without an error.
    let mut magic = [0u8; 2];
    let (read, _) = fill(&mut input, &mut magic)?;
    let gzip = magic[..read] == [0x1f, 0x8b];
    let input = BufReader::with_capacity(
        64 * 1024,
        io::Cursor::new(magic).take(read as u64).chain(input),
    );
    // The decoder reads from this buffer itself: its `read` flavour would
    // copy every compressed byte into a second buffer of its own.
    let reader: Box<dyn Read> = if gzip {
        Box::new(MultiGzDecoder::new(input))
    } else {
        Box::new(input)
    };
    Ok((reader, gzip))
}

/// Fills `buf` from `reader`: the bytes read, and whether the stream ended.
fn fill(reader: &mut dyn Read, buf: &mut [u8]) -> io::Result<(usize, bool)> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => return Ok((filled, true)),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((filled, false))
}

fn decode<R: Read>(
    input: R,
    full: &SyncSender<io::Result<Vec<u8>>>,
    empty: &Receiver<Vec<u8>>,
) -> bool {
    let (mut reader, gzip) = match open(input) {
        Ok(opened) => opened,
        Err(e) => {
            let _ = full.send(Err(e));
            return false;
        }
    };
    while let Ok(mut buf) = empty.recv() {
        buf.resize(BUFFER, 0);
        match fill(&mut reader, &mut buf) {
            Ok((filled, done)) => {
                buf.truncate(filled);
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
    let mut splitter = Splitter::default();
    while let Ok(buf) = full.recv() {
        let buf = buf?;
        if splitter.feed(&buf, on_line) == Flow::Stop {
            return Ok(splitter.scanned);
        }
        // The decoder may have finished; a closed pool is not an error.
        let _ = empty.send(buf);
    }
    Ok(splitter.finish(on_line))
}

/// Cuts buffers of the stream into lines; a line split between two buffers
/// is carried over.
#[derive(Default)]
struct Splitter {
    scanned: Scanned,
    carry: Vec<u8>,
    /// The line being carried is over [`MAX_LINE`]; its bytes are dropped.
    overlong: bool,
    /// Every line end moves the number on, so blank and overlong lines keep
    /// the numbers of the lines after them equal to the object's.
    number: u64,
}

impl Splitter {
    fn emit(
        &mut self,
        line: Option<&[u8]>,
        on_line: &mut impl FnMut(u64, Option<&[u8]>) -> Flow,
    ) -> Flow {
        self.number += 1;
        let Some(line) = line else {
            self.scanned.overlong += 1;
            return on_line(self.number, None);
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return Flow::Continue;
        }
        self.scanned.lines += 1;
        on_line(self.number, Some(line))
    }

    fn feed(&mut self, buf: &[u8], on_line: &mut impl FnMut(u64, Option<&[u8]>) -> Flow) -> Flow {
        self.scanned.bytes += buf.len() as u64;
        let mut start = 0;
        if !self.carry.is_empty() || self.overlong {
            match memchr(b'\n', buf) {
                Some(nl) => {
                    let flow = if self.overlong || self.carry.len() + nl > MAX_LINE {
                        self.overlong = false;
                        self.emit(None, on_line)
                    } else {
                        let mut carry = std::mem::take(&mut self.carry);
                        carry.extend_from_slice(&buf[..nl]);
                        let flow = self.emit(Some(&carry), on_line);
                        carry.clear();
                        self.carry = carry;
                        flow
                    };
                    self.carry.clear();
                    if flow == Flow::Stop {
                        return Flow::Stop;
                    }
                    start = nl + 1;
                }
                None => {
                    if !self.overlong {
                        self.carry.extend_from_slice(buf);
                        if self.carry.len() > MAX_LINE {
                            self.overlong = true;
                            self.carry = Vec::new();
                        }
                    }
                    return Flow::Continue;
                }
            }
        }
        let mut line_start = start;
        for nl in memchr_iter(b'\n', &buf[start..]) {
            let end = start + nl;
            if self.emit(Some(&buf[line_start..end]), on_line) == Flow::Stop {
                return Flow::Stop;
            }
            line_start = end + 1;
        }
        let rest = &buf[line_start..];
        if rest.len() > MAX_LINE {
            self.overlong = true;
        } else {
            self.carry.extend_from_slice(rest);
        }
        Flow::Continue
    }

    /// The last line, if the stream did not end with a line end.
    fn finish(mut self, on_line: &mut impl FnMut(u64, Option<&[u8]>) -> Flow) -> Scanned {
        if self.overlong {
            self.emit(None, on_line);
        } else if !self.carry.is_empty() {
            let carry = std::mem::take(&mut self.carry);
            self.emit(Some(&carry), on_line);
        }
        self.scanned
    }
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

    /// The lines, the same on one thread and on two.
    fn lines_of(input: &[u8]) -> (Vec<String>, Scanned) {
        let on = |threads| {
            let mut out = Vec::new();
            let scanned = scan_lines_with(input, threads, |_, l| {
                if let Some(l) = l {
                    out.push(String::from_utf8(l.to_vec()).unwrap());
                }
                Flow::Continue
            })
            .unwrap();
            (out, scanned)
        };
        let two = on(Threads::Two);
        assert_eq!(on(Threads::One), two);
        two
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
        for threads in [Threads::One, Threads::Two] {
            let mut seen = Vec::new();
            scan_lines_with(&gzip(&text)[..], threads, |n, l| {
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
    }

    #[test]
    fn a_corrupt_gzip_is_an_error() {
        let mut data = gzip(&b"hello\n".repeat(10_000));
        let n = data.len();
        data[n / 2] ^= 0xff;
        data[n / 2 + 1] ^= 0xff;
        for threads in [Threads::One, Threads::Two] {
            assert!(scan_lines_with(&data[..], threads, |_, _| Flow::Continue).is_err());
        }
    }

    #[test]
    fn stopping_early_ends_the_scan() {
        let text = b"1\n2\n3\n".repeat(100_000);
        for threads in [Threads::One, Threads::Two] {
            let mut seen = 0;
            scan_lines_with(&text[..], threads, |_, _| {
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

    #[test]
    fn lambda_memory_below_one_vcpu_scans_on_one_thread() {
        assert_eq!(Threads::for_memory(Some(512)), Threads::One);
        assert_eq!(Threads::for_memory(Some(1769)), Threads::One);
        assert_eq!(Threads::for_memory(Some(3008)), Threads::Two);
    }
}
