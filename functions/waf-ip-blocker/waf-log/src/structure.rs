//! Where a line's JSON structure is, one bit per byte: the quotes that open
//! or close strings, and the brackets outside strings.
//!
//! Built with vector compares (the approach of simdjson's first stage:
//! AVX-512BW where the CPU has it, else AVX2, else SSE2), it
//! turns "where does this string end" and "where does this array end" into
//! bit searches, instead of a byte-by-byte walk through the request headers
//! that make up most of a WAF record. It is built a block at a time as the
//! extractor's searches reach further, so the part of a line after the last
//! field read is never indexed.

/// The structure of one line, indexed lazily: a block of 64 bytes is
/// indexed only when a search reaches it, so a scan that stops after the
/// fields it needs never pays for the rest of the line. Reused from line to
/// line.
///
/// "The line" below is the bytes it was started on: a whole line
/// ([`Self::start`]), or the rest of one from a place whose structure is
/// known ([`Self::start_inside`]), where positions count from that place,
/// depths are the whole line's, and what it says of backslashes covers
/// only those bytes.
#[derive(Debug, Clone, Default)]
pub(super) struct Structure {
    /// One entry a block, so a lookup is one bounds check and one cache
    /// line, not one of each for every mask.
    blocks: Vec<Block>,
    /// Open brackets minus close brackets after the blocks indexed so far.
    depth: i64,
    /// Where the count first falls back to zero: the line's outermost
    /// container ends there, and nothing after it is inside that container.
    outer_end: Option<usize>,
    /// Blocks of the current line: its length / 64, plus one.
    words: usize,
    /// Blocks indexed so far, from the start of the bytes indexed.
    indexed: usize,
    /// All ones when the last indexed byte is inside a string.
    in_string: u64,
    /// The first byte of the next block is escaped by a backslash before it.
    escape_next: bool,
    /// A backslash appeared in the blocks indexed so far.
    has_backslash: bool,
    /// Started inside the line's structure ([`Self::start_inside`]).
    of_rest: bool,
    /// Only the quotes are indexed ([`Self::start_quotes`]).
    quotes_only: bool,
    vectors: Vectors,
}

/// The widest vector instructions the CPU has for the index.
// Off x86-64 (Graviton) only `Sse2`, the portable path, is ever chosen.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Vectors {
    #[default]
    Sse2,
    /// With POPCNT and PCLMULQDQ.
    Avx2,
    /// AVX-512BW, with AVX2, POPCNT and PCLMULQDQ.
    Avx512,
}

impl Vectors {
    #[cfg(target_arch = "x86_64")]
    fn detect() -> Self {
        if !Masks::avx2_available() {
            Self::Sse2
        } else if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
        {
            Self::Avx512
        } else {
            Self::Avx2
        }
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn detect() -> Self {
        Self::Sse2
    }
}

/// What the index knows of one block of 64 bytes, one bit a byte.
#[derive(Debug, Clone, Copy, Default)]
struct Block {
    /// `"` that open or close a string: not escaped by an odd run of
    /// backslashes.
    quotes: u64,
    /// `{` and `[` outside strings.
    opens: u64,
    /// `}` and `]` outside strings.
    closes: u64,
    /// Bytes inside strings, each string's opening quote included and its
    /// closing quote not: tells an opening quote from a closing one.
    strings: u64,
    /// Open brackets minus close brackets before the block.
    depth_at: i64,
}

impl Structure {
    pub(super) fn new() -> Self {
        Self {
            vectors: Vectors::detect(),
            ..Self::default()
        }
    }

    /// Starts a line of `len` bytes, forgetting the previous one.
    pub(super) fn start(&mut self, len: usize) {
        self.start_inside(len, 0);
    }

    /// Starts `len` bytes that begin outside any string, `depth` brackets
    /// deep: the rest of a line whose first part has a structure already
    /// known. Depths are then the line's, and the outermost container ends
    /// where the depth falls back to zero.
    pub(super) fn start_inside(&mut self, len: usize, depth: i64) {
        self.words = len / 64 + 1;
        if self.blocks.len() < self.words {
            self.blocks.resize(self.words, Block::default());
        }
        self.depth = depth;
        self.of_rest = depth != 0;
        self.quotes_only = false;
        self.outer_end = None;
        self.indexed = 0;
        self.in_string = 0;
        self.escape_next = false;
        self.has_backslash = false;
    }

    /// Starts the rest of a line, as [`Self::start_inside`], indexing only
    /// where its quotes are, for a reader that walks it in order and needs
    /// nothing else: where no backslash precedes a quote, every quote opens
    /// or closes a string, and the walk itself tells which. Bracket
    /// questions ([`Self::opening_quote_depth`], [`Self::container_end`])
    /// then have no answer, and [`Self::has_backslash`] says whether the
    /// quotes found so far can be trusted: once a backslash has been
    /// indexed, a quote after it may be text.
    pub(super) fn start_quotes(&mut self, len: usize) {
        self.start_inside(len, 0);
        self.of_rest = true;
        self.quotes_only = true;
    }

    /// Whether this indexes the rest of a line, not the whole of one.
    pub(super) fn is_of_rest(&self) -> bool {
        self.of_rest
    }

    /// Whether only the quotes are indexed ([`Self::start_quotes`]).
    #[cfg(test)]
    pub(super) fn is_quotes_only(&self) -> bool {
        self.quotes_only
    }

    /// Whether a backslash appeared in the line up to the furthest position
    /// searched so far: a string whose closing quote was found holds an
    /// escape only if this is true.
    pub(super) fn has_backslash(&self) -> bool {
        self.has_backslash
    }

    /// The string quotes at and after `from`, for [`Self::pop_quote`].
    pub(super) fn quotes_from(&mut self, line: &[u8], from: usize) -> Option<Quotes> {
        let word = from / 64;
        self.reach(line, word)?;
        Some(Quotes {
            word,
            bits: self.blocks[word].quotes & (!0u64 << (from % 64)),
        })
    }

    /// The next quote of `quotes`. A walk through many short strings in a
    /// row finds each end from the bits at hand, instead of from the index
    /// again: each lookup would wait on the one before it.
    #[inline(always)]
    pub(super) fn pop_quote(&mut self, line: &[u8], quotes: &mut Quotes) -> Option<usize> {
        while quotes.bits == 0 {
            quotes.word += 1;
            self.reach(line, quotes.word)?;
            quotes.bits = self.blocks[quotes.word].quotes;
        }
        let at = quotes.word * 64 + quotes.bits.trailing_zeros() as usize;
        quotes.bits &= quotes.bits - 1;
        Some(at)
    }

    /// Whether `raw`, bytes of the line up to the furthest position indexed,
    /// holds a backslash: a string whose closing quote the index found holds
    /// an escape only then. Most lines have none, and are not searched:
    /// inline, so that they do not pay for a call either.
    #[inline]
    pub(super) fn holds_backslash(&self, raw: &[u8]) -> bool {
        self.has_backslash && memchr::memchr(b'\\', raw).is_some()
    }

    /// The first string quote at or after `from`.
    pub(super) fn next_quote(&mut self, line: &[u8], from: usize) -> Option<usize> {
        let mut word = from / 64;
        self.reach(line, word)?;
        let mut bits = self.blocks[word].quotes & (!0u64 << (from % 64));
        loop {
            if bits != 0 {
                return Some(word * 64 + bits.trailing_zeros() as usize);
            }
            word += 1;
            self.reach(line, word)?;
            bits = self.blocks[word].quotes;
        }
    }

    /// The bracket depth before `at` when the `"` there opens a string and
    /// lies inside the line's outermost container (or before it opens);
    /// `None` for any other byte: a closing quote, an escaped one, a quote
    /// character inside a string, or a position after the outermost
    /// container closed.
    pub(super) fn opening_quote_depth(&mut self, line: &[u8], at: usize) -> Option<i64> {
        if self.quotes_only {
            return None;
        }
        let word = at / 64;
        self.reach(line, word)?;
        let block = &self.blocks[word];
        let bit = 1u64 << (at % 64);
        if block.quotes & block.strings & bit == 0 {
            return None;
        }
        if self.outer_end.is_some_and(|end| end < at) {
            return None;
        }
        let below = bit - 1;
        let opens = (block.opens & below).count_ones();
        let closes = (block.closes & below).count_ones();
        Some(block.depth_at + i64::from(opens) - i64::from(closes))
    }

    /// Just past the bracket that closes the one at `open`; `None` when
    /// `open` is not an opening bracket outside a string, or it never closes.
    pub(super) fn container_end(&mut self, line: &[u8], open: usize) -> Option<usize> {
        if self.quotes_only {
            return None;
        }
        let mut word = open / 64;
        self.reach(line, word)?;
        let from = !0u64 << (open % 64);
        let mut opens = self.blocks[word].opens & from;
        let mut closes = self.blocks[word].closes & from;
        if opens.trailing_zeros() as usize != open % 64 {
            return None;
        }
        // Depth relative to just before `open`, whose own bracket is the
        // first counted: the container ends where it falls back to zero.
        let mut depth = 0i64;
        loop {
            let (open_count, close_count) = (opens.count_ones(), closes.count_ones());
            // Only a block with as many closes as the depth it starts at can
            // end the container: most blocks of a long one are passed over
            // without a walk through their brackets.
            if i64::from(close_count) >= depth
                && let Some(at) = outer_end_in(opens, closes, depth)
            {
                return Some(word * 64 + at + 1);
            }
            depth += i64::from(open_count) - i64::from(close_count);
            word += 1;
            self.reach(line, word)?;
            opens = self.blocks[word].opens;
            closes = self.blocks[word].closes;
        }
    }

    /// Indexes the whole line now, in one call.
    pub(super) fn index_all(&mut self, line: &[u8]) {
        if self.indexed < self.words {
            self.index_to(line, self.words);
        }
    }

    /// Indexes the line up to block `word`; `None` past the line's end.
    #[inline]
    fn reach(&mut self, line: &[u8], word: usize) -> Option<()> {
        if word >= self.words {
            return None;
        }
        if self.indexed <= word {
            self.index_to(line, word + 1);
        }
        Some(())
    }

    /// Indexes the blocks up to, not including, `end`, all in one call: a
    /// key search reaches several blocks at once, and one loop keeps the
    /// running state in registers instead of calling once a block.
    fn index_to(&mut self, line: &[u8], end: usize) {
        if self.quotes_only {
            return self.index_quotes_to(line, end);
        }
        match self.vectors {
            // SAFETY: `vectors` names only what the CPU has.
            #[cfg(target_arch = "x86_64")]
            Vectors::Avx512 => unsafe { self.index_to_avx512(line, end) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Vectors::Avx2 => unsafe { self.index_to_avx2(line, end) },
            _ => self.index_with(line, end, Masks::of, prefix_xor),
        }
    }

    /// The indexing compiled for AVX2 hosts, where the bit counts of the
    /// depth bookkeeping are one instruction each and the string mask is one
    /// carry-less multiply instead of six shifts: a block is indexed for
    /// every 64 bytes read, so these are the extractor's hottest lines.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX2, POPCNT and PCLMULQDQ.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,popcnt,pclmulqdq")]
    unsafe fn index_to_avx2(&mut self, line: &[u8], end: usize) {
        self.index_with(
            line,
            end,
            // SAFETY: this function runs only where the CPU has these
            // features.
            |block| unsafe { Masks::of_avx2(block) },
            |x| unsafe { prefix_xor_clmul(x) },
        );
    }

    /// [`Self::index_to_avx2`] with each mask one compare of the whole
    /// block, where AVX-512BW has them: a quarter of the AVX2 version's
    /// instructions for the masks.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX-512F, AVX-512BW, AVX2, POPCNT and PCLMULQDQ.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx2,popcnt,pclmulqdq")]
    unsafe fn index_to_avx512(&mut self, line: &[u8], end: usize) {
        self.index_with(
            line,
            end,
            // SAFETY: this function runs only where the CPU has these
            // features.
            |block| unsafe { Masks::of_avx512(block) },
            |x| unsafe { prefix_xor_clmul(x) },
        );
    }

    /// [`Self::index_to`] of the quotes and backslashes alone.
    fn index_quotes_to(&mut self, line: &[u8], end: usize) {
        match self.vectors {
            // SAFETY: `vectors` names only what the CPU has.
            #[cfg(target_arch = "x86_64")]
            Vectors::Avx512 => unsafe { self.index_quotes_avx512(line, end) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Vectors::Avx2 => unsafe { self.index_quotes_avx2(line, end) },
            _ => self.index_quotes_with(line, end, |block| {
                let masks = Masks::of(block);
                (masks.quotes, masks.backslashes)
            }),
        }
    }

    /// # Safety
    ///
    /// The CPU must support AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn index_quotes_avx2(&mut self, line: &[u8], end: usize) {
        // SAFETY: this function runs only where the CPU has AVX2.
        self.index_quotes_with(line, end, |block| unsafe { Masks::quotes_avx2(block) });
    }

    /// # Safety
    ///
    /// The CPU must support AVX-512F and AVX-512BW.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw")]
    unsafe fn index_quotes_avx512(&mut self, line: &[u8], end: usize) {
        // SAFETY: this function runs only where the CPU has these features.
        self.index_quotes_with(line, end, |block| unsafe { Masks::quotes_avx512(block) });
    }

    #[inline(always)]
    fn index_quotes_with(
        &mut self,
        line: &[u8],
        end: usize,
        masks: impl Fn(&[u8; 64]) -> (u64, u64),
    ) {
        let mut backslashes = 0;
        let whole = (line.len() / 64).min(end);
        let first = self.indexed;
        let mut word = first;
        let blocks = line.chunks_exact(64).skip(first);
        for (entry, block) in self.blocks[first..whole.max(first)].iter_mut().zip(blocks) {
            let (quotes, found) = masks(block.try_into().expect("64 bytes"));
            entry.quotes = quotes;
            backslashes |= found;
            word += 1;
        }
        if word < end {
            let mut tail = [b' '; 64];
            let rest = &line[(word * 64).min(line.len())..];
            tail[..rest.len()].copy_from_slice(rest);
            let (quotes, found) = masks(&tail);
            self.blocks[word].quotes = quotes;
            backslashes |= found;
        }
        self.indexed = end;
        self.has_backslash |= backslashes != 0;
    }

    #[inline(always)]
    fn index_with(
        &mut self,
        line: &[u8],
        end: usize,
        masks: impl Fn(&[u8; 64]) -> Masks,
        prefix_xor: impl Fn(u64) -> u64,
    ) {
        let first = self.indexed;
        let mut state = Running {
            depth: self.depth,
            in_string: self.in_string,
            outer_end: self.outer_end,
            escape_next: self.escape_next,
            has_backslash: self.has_backslash,
        };
        // Whole blocks straight from the line; only the last, short one is
        // copied out, padded with spaces (which are no structure).
        let whole = (line.len() / 64).min(end);
        let mut word = first;
        let blocks = line.chunks_exact(64).skip(first);
        for (entry, block) in self.blocks[first..whole.max(first)].iter_mut().zip(blocks) {
            let block: &[u8; 64] = block.try_into().expect("64 bytes");
            *entry = state.index(word * 64, masks(block), &prefix_xor);
            word += 1;
        }
        if word < end {
            let mut tail = [b' '; 64];
            let rest = &line[(word * 64).min(line.len())..];
            tail[..rest.len()].copy_from_slice(rest);
            self.blocks[word] = state.index(word * 64, masks(&tail), &prefix_xor);
        }
        self.indexed = end;
        self.depth = state.depth;
        self.in_string = state.in_string;
        self.outer_end = state.outer_end;
        self.escape_next = state.escape_next;
        self.has_backslash = state.has_backslash;
    }
}

/// Quotes not yet taken, from [`Structure::quotes_from`]: those of block
/// `word` in `bits`, and every quote of the blocks after it.
pub(super) struct Quotes {
    word: usize,
    bits: u64,
}

/// The index's running state, from one block to the next.
struct Running {
    depth: i64,
    in_string: u64,
    outer_end: Option<usize>,
    escape_next: bool,
    has_backslash: bool,
}

impl Running {
    /// The block at byte `at`, from its character masks.
    #[inline(always)]
    fn index(&mut self, at: usize, found: Masks, prefix_xor: &impl Fn(u64) -> u64) -> Block {
        let mut quotes = found.quotes;
        if found.backslashes != 0 || self.escape_next {
            self.has_backslash |= found.backslashes != 0;
            let (escaped, escape_next) = escaped(found.backslashes, self.escape_next);
            quotes &= !escaped;
            self.escape_next = escape_next;
        }
        // Bit k is set when byte k is inside a string: from its opening
        // quote up to, not including, its closing quote. `in_string` carries
        // a string that runs on into the next block.
        let strings = prefix_xor(quotes) ^ self.in_string;
        self.in_string = 0u64.wrapping_sub(strings >> 63);
        let opens = found.opens & !strings;
        let closes = found.closes & !strings;
        let depth_at = self.depth;
        let (open_count, close_count) = (opens.count_ones(), closes.count_ones());
        // Only a block with at least as many closes as the depth it starts
        // at can end the outermost container, so most blocks skip the walk.
        if self.outer_end.is_none() && i64::from(close_count) >= depth_at {
            self.outer_end = outer_end_in(opens, closes, depth_at).map(|k| at + k);
        }
        self.depth += i64::from(open_count) - i64::from(close_count);
        Block {
            quotes,
            opens,
            closes,
            strings,
            depth_at,
        }
    }
}

/// Where in a block that starts at bracket depth `depth` the depth first
/// falls to zero.
#[inline(always)]
fn outer_end_in(opens: u64, closes: u64, mut depth: i64) -> Option<usize> {
    let mut both = opens | closes;
    while both != 0 {
        let bit = both & both.wrapping_neg();
        if opens & bit != 0 {
            depth += 1;
        } else {
            depth -= 1;
            if depth <= 0 {
                return Some(bit.trailing_zeros() as usize);
            }
        }
        both ^= bit;
    }
    None
}

/// The bytes of a block escaped by a backslash: the byte after each odd-long
/// run of backslashes; and whether a run that ends the block escapes the
/// first byte of the next one. `escape_next` says whether byte 0 is
/// escaped. Out of line: most blocks hold no backslash, and the index loop
/// stays small without it.
#[inline(never)]
fn escaped(backslashes: u64, escape_next: bool) -> (u64, bool) {
    let mut escaped = 0u64;
    let mut carry = false;
    let mut runs = backslashes;
    if escape_next {
        // Byte 0 is escaped, and an escaped backslash starts no run.
        escaped |= 1;
        runs &= !1;
    }
    while runs != 0 {
        let start = runs.trailing_zeros();
        let len = (!(runs >> start)).trailing_zeros();
        runs &= !((u64::MAX >> (64 - len)) << start);
        if len % 2 == 1 {
            match start + len {
                64 => carry = true,
                after => escaped |= 1u64 << after,
            }
        }
    }
    (escaped, carry)
}

/// Bit k of each mask says whether byte k of a block is that character.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Masks {
    quotes: u64,
    opens: u64,
    closes: u64,
    backslashes: u64,
}

impl Masks {
    #[cfg(target_arch = "x86_64")]
    fn avx2_available() -> bool {
        std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("popcnt")
            && std::arch::is_x86_feature_detected!("pclmulqdq")
    }

    // Off x86-64 only the tests ask.
    #[cfg(not(target_arch = "x86_64"))]
    #[allow(dead_code)]
    fn avx2_available() -> bool {
        false
    }

    /// Half the instructions of the SSE2 version per block; every x86-64
    /// Lambda host has AVX2, the SSE2 version is for the rest.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn of_avx2(block: &[u8; 64]) -> Self {
        use std::arch::x86_64::{
            __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256,
            _mm256_set1_epi8,
        };
        let mut masks = Self::default();
        for (k, lane) in block.chunks_exact(32).enumerate() {
            // SAFETY: `lane` is 32 readable bytes and the load has no
            // alignment requirement.
            let v = unsafe { _mm256_loadu_si256(lane.as_ptr().cast::<__m256i>()) };
            // `[` and `]` differ from `{` and `}` only in bit 5.
            let folded = _mm256_or_si256(v, _mm256_set1_epi8(0x20));
            let mask = |x, c: u8| {
                u64::from(
                    _mm256_movemask_epi8(_mm256_cmpeq_epi8(x, _mm256_set1_epi8(c as i8))) as u32,
                )
            };
            let shift = 32 * k;
            masks.quotes |= mask(v, b'"') << shift;
            masks.opens |= mask(folded, b'{') << shift;
            masks.closes |= mask(folded, b'}') << shift;
            masks.backslashes |= mask(v, b'\\') << shift;
        }
        masks
    }

    #[cfg(not(target_arch = "x86_64"))]
    #[allow(dead_code)]
    unsafe fn of_avx2(block: &[u8; 64]) -> Self {
        Self::of(block)
    }

    /// # Safety
    ///
    /// The CPU must support AVX-512F and AVX-512BW.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw")]
    unsafe fn of_avx512(block: &[u8; 64]) -> Self {
        use std::arch::x86_64::{
            _mm512_cmpeq_epi8_mask, _mm512_loadu_si512, _mm512_or_si512, _mm512_set1_epi8,
        };
        // SAFETY: `block` is 64 readable bytes and the load has no
        // alignment requirement.
        let v = unsafe { _mm512_loadu_si512(block.as_ptr().cast()) };
        // `[` and `]` differ from `{` and `}` only in bit 5.
        let folded = _mm512_or_si512(v, _mm512_set1_epi8(0x20));
        let mask = |x, c: u8| _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8(c as i8));
        Self {
            quotes: mask(v, b'"'),
            opens: mask(folded, b'{'),
            closes: mask(folded, b'}'),
            backslashes: mask(v, b'\\'),
        }
    }

    /// The quotes and backslashes of [`Self::of_avx2`] alone.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn quotes_avx2(block: &[u8; 64]) -> (u64, u64) {
        use std::arch::x86_64::{
            __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_set1_epi8,
        };
        let (mut quotes, mut backslashes) = (0, 0);
        for (k, lane) in block.chunks_exact(32).enumerate() {
            // SAFETY: `lane` is 32 readable bytes and the load has no
            // alignment requirement.
            let v = unsafe { _mm256_loadu_si256(lane.as_ptr().cast::<__m256i>()) };
            let mask = |c: u8| {
                u64::from(
                    _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(c as i8))) as u32,
                )
            };
            quotes |= mask(b'"') << (32 * k);
            backslashes |= mask(b'\\') << (32 * k);
        }
        (quotes, backslashes)
    }

    /// The quotes and backslashes of [`Self::of_avx512`] alone.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX-512F and AVX-512BW.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw")]
    unsafe fn quotes_avx512(block: &[u8; 64]) -> (u64, u64) {
        use std::arch::x86_64::{_mm512_cmpeq_epi8_mask, _mm512_loadu_si512, _mm512_set1_epi8};
        // SAFETY: `block` is 64 readable bytes and the load has no
        // alignment requirement.
        let v = unsafe { _mm512_loadu_si512(block.as_ptr().cast()) };
        let mask = |c: u8| _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(c as i8));
        (mask(b'"'), mask(b'\\'))
    }

    /// SSE2 is part of every x86-64 CPU, so no runtime detection is needed.
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    fn of(block: &[u8; 64]) -> Self {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
            _mm_set1_epi8,
        };
        let mut masks = Self::default();
        for (k, lane) in block.chunks_exact(16).enumerate() {
            // SAFETY: `lane` is 16 readable bytes and `_mm_loadu_si128` has no
            // alignment requirement; the other intrinsics only need SSE2,
            // which this function is compiled for (see the `cfg`).
            let (quotes, opens, closes, backslashes) = unsafe {
                let v = _mm_loadu_si128(lane.as_ptr().cast::<__m128i>());
                // `[` and `]` differ from `{` and `}` only in bit 5.
                let folded = _mm_or_si128(v, _mm_set1_epi8(0x20));
                let mask = |x, c: u8| _mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8(c as i8)));
                (
                    mask(v, b'"'),
                    mask(folded, b'{'),
                    mask(folded, b'}'),
                    mask(v, b'\\'),
                )
            };
            let shift = 16 * k;
            masks.quotes |= u64::from(quotes as u16) << shift;
            masks.opens |= u64::from(opens as u16) << shift;
            masks.closes |= u64::from(closes as u16) << shift;
            masks.backslashes |= u64::from(backslashes as u16) << shift;
        }
        masks
    }

    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    fn of(block: &[u8; 64]) -> Self {
        Self::bytewise(block)
    }

    /// The reference: one byte at a time.
    #[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
    fn bytewise(block: &[u8; 64]) -> Self {
        let mut masks = Self::default();
        for (k, &byte) in block.iter().enumerate() {
            let bit = 1u64 << k;
            match byte {
                b'"' => masks.quotes |= bit,
                b'{' | b'[' => masks.opens |= bit,
                b'}' | b']' => masks.closes |= bit,
                b'\\' => masks.backslashes |= bit,
                _ => {}
            }
        }
        masks
    }
}

/// Bit k of the result is the parity of bits 0..=k of `x`.
fn prefix_xor(mut x: u64) -> u64 {
    for shift in [1, 2, 4, 8, 16, 32] {
        x ^= x << shift;
    }
    x
}

/// [`prefix_xor`] as one carry-less multiply by all ones: bit k of the
/// product is the XOR of bits 0..=k.
///
/// # Safety
///
/// The CPU must support PCLMULQDQ.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "pclmulqdq")]
unsafe fn prefix_xor_clmul(x: u64) -> u64 {
    use std::arch::x86_64::{
        _mm_clmulepi64_si128, _mm_cvtsi128_si64, _mm_set_epi64x, _mm_set1_epi8,
    };
    let product = _mm_clmulepi64_si128(_mm_set_epi64x(0, x as i64), _mm_set1_epi8(-1), 0);
    _mm_cvtsi128_si64(product) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn indexed(line: &[u8]) -> Structure {
        let mut s = Structure::new();
        s.start(line.len());
        s.reach(line, line.len() / 64).unwrap();
        s
    }

    /// Every position the index reports, as (quotes, opens, closes).
    fn positions(line: &[u8]) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
        let s = indexed(line);
        let ones = |bits: &[u64]| -> Vec<usize> {
            (0..line.len())
                .filter(|&i| bits[i / 64] & (1 << (i % 64)) != 0)
                .collect()
        };
        let mask = |f: fn(&Block) -> u64| s.blocks.iter().map(f).collect::<Vec<_>>();
        (
            ones(&mask(|b| b.quotes)),
            ones(&mask(|b| b.opens)),
            ones(&mask(|b| b.closes)),
        )
    }

    /// The rest of a line, indexed from an opening quote with the depth
    /// before it, answers as the whole line's index does there, shifted:
    /// string ends, key depths, container ends and the outermost end.
    #[test]
    fn the_rest_of_a_line_indexes_as_the_whole_line_does_there() {
        let pad = "p".repeat(90);
        let line = format!(
            r#"{{"a":"{pad}","httpRequest":{{"clientIp":"1.2.3.4","headers":[{{"name":"x","value":"q\"]}}"}}],"uri":"/"}},"labels":[{{"name":"l"}}]}}"#
        );
        let line = line.as_bytes();
        let mut whole = indexed(line);
        let rest_at = line
            .windows(12)
            .position(|w| w == br#""clientIp":""#)
            .unwrap()
            + 11;
        let depth = whole.opening_quote_depth(line, rest_at).unwrap();
        assert_eq!(depth, 2);
        let rest = &line[rest_at..];
        let mut part = Structure::new();
        part.start_inside(rest.len(), depth);
        part.index_all(rest);
        assert!(part.is_of_rest());
        for i in 0..rest.len() {
            let at = rest_at + i;
            assert_eq!(
                part.next_quote(rest, i).map(|q| q + rest_at),
                whole.next_quote(line, at),
                "{i}"
            );
            assert_eq!(
                part.opening_quote_depth(rest, i),
                whole.opening_quote_depth(line, at),
                "{i}"
            );
            assert_eq!(
                part.container_end(rest, i).map(|e| e + rest_at),
                whole.container_end(line, at),
                "{i}"
            );
        }
        assert_eq!(part.outer_end.map(|e| e + rest_at), whole.outer_end);
        assert!(part.has_backslash());
    }

    #[test]
    fn vector_masks_equal_the_bytewise_reference() {
        let mut rng = fastrand::Rng::with_seed(11);
        let alphabet = b"\"{}[]:,ab \\\x7b\x5b\x5d\x7d\xfb\xdb\x02";
        for _ in 0..2_000 {
            let block: [u8; 64] = std::array::from_fn(|_| {
                if rng.bool() {
                    alphabet[rng.usize(..alphabet.len())]
                } else {
                    rng.u8(..)
                }
            });
            assert_eq!(Masks::of(&block), Masks::bytewise(&block), "{block:?}");
            if Masks::avx2_available() {
                // SAFETY: just checked.
                let avx2 = unsafe { Masks::of_avx2(&block) };
                assert_eq!(avx2, Masks::bytewise(&block), "{block:?}");
            }
            #[cfg(target_arch = "x86_64")]
            if Vectors::detect() == Vectors::Avx512 {
                // SAFETY: just checked.
                let avx512 = unsafe { Masks::of_avx512(&block) };
                assert_eq!(avx512, Masks::bytewise(&block), "{block:?}");
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_carry_less_prefix_xor_equals_the_shifts() {
        if !Masks::avx2_available() {
            return;
        }
        let mut rng = fastrand::Rng::with_seed(3);
        for x in [0, 1, u64::MAX, 1 << 63]
            .into_iter()
            .chain((0..2_000).map(|_| rng.u64(..)))
        {
            // SAFETY: just checked.
            assert_eq!(unsafe { prefix_xor_clmul(x) }, prefix_xor(x), "{x:#x}");
        }
    }

    #[test]
    fn strings_running_across_blocks_hide_their_brackets() {
        // The string value crosses two block edges.
        let mut line = br#"{"#.to_vec();
        line.extend(br#""k":""#);
        line.extend(std::iter::repeat_n(b'{', 60));
        line.extend(std::iter::repeat_n(b']', 80));
        line.extend(br#"","l":[{}]}"#);
        assert!(!line.contains(&b'\\'));
        let (quotes, opens, closes) = positions(&line);
        let close_of_value = line.len() - 11;
        assert_eq!(
            quotes,
            [
                1,
                3,
                5,
                close_of_value,
                close_of_value + 2,
                close_of_value + 4
            ]
        );
        assert_eq!(opens, [0, line.len() - 5, line.len() - 4]);
        assert_eq!(closes, [line.len() - 3, line.len() - 2, line.len() - 1]);
        let mut s = indexed(&line);
        assert_eq!(s.container_end(&line, 0), Some(line.len()));
        assert_eq!(s.container_end(&line, line.len() - 5), Some(line.len() - 1));
    }

    #[test]
    fn escaped_quotes_are_string_text_and_backslash_runs_pair_up() {
        // `\"` stays inside; `\\"` ends the string (the backslash is escaped).
        let line = br#"{"a":"x\"[","b":"y\\","c":[1]}"#;
        let (quotes, opens, closes) = positions(line);
        let at = |needle: &str| {
            let text = std::str::from_utf8(line).unwrap();
            text.find(needle).unwrap()
        };
        assert!(
            !quotes.contains(&(at(r#"\""#) + 1)),
            "an escaped quote is text"
        );
        assert!(
            quotes.contains(&(at(r#"\\""#) + 2)),
            "after an escaped backslash, a quote ends the string"
        );
        assert_eq!(
            opens,
            [0, at("[1")],
            "the [ inside a string is not structure"
        );
        assert_eq!(closes, [at("1]") + 1, line.len() - 1]);
    }

    #[test]
    fn a_position_that_is_not_an_open_bracket_has_no_end() {
        let line = br#"{"a":"[x]"}"#;
        let mut s = indexed(line);
        assert_eq!(s.container_end(line, 6), None, "a bracket inside a string");
        assert_eq!(s.container_end(line, 1), None, "a quote");
        assert_eq!(s.container_end(line, 0), Some(line.len()));
        let open = br#"{"a":[1,2"#;
        s.start(open.len());
        assert_eq!(s.container_end(open, 5), None, "never closed");
    }

    /// The quotes and brackets as a byte-by-byte walk finds them.
    fn reference(line: &[u8]) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
        let (mut quotes, mut opens, mut closes) = (vec![], vec![], vec![]);
        let mut backslashes = 0usize;
        let mut in_string = false;
        for (at, &byte) in line.iter().enumerate() {
            match byte {
                b'\\' => {
                    backslashes += 1;
                    continue;
                }
                b'"' if backslashes.is_multiple_of(2) => {
                    quotes.push(at);
                    in_string = !in_string;
                }
                b'{' | b'[' if !in_string => opens.push(at),
                b'}' | b']' if !in_string => closes.push(at),
                _ => {}
            }
            backslashes = 0;
        }
        (quotes, opens, closes)
    }

    /// Backslash runs of every length, crossing block edges, so escapes
    /// carried from one block into the next are exercised.
    #[test]
    fn escapes_across_block_edges_match_the_bytewise_walk() {
        let mut rng = fastrand::Rng::with_seed(5);
        let alphabet = b"\"\\\\\\{}[]a ";
        for _ in 0..3_000 {
            let len = rng.usize(..300);
            let line: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.usize(..alphabet.len())])
                .collect();
            assert_eq!(positions(&line), reference(&line), "{line:?}");
        }
    }

    /// Each index path the host can run (SSE2 with the shift prefix XOR,
    /// AVX2 and AVX-512BW with the carry-less one), indexing a line at once
    /// or a block at a time, builds the same index: the detected path alone
    /// would leave the others untested on the host running the tests.
    /// Every vector path this CPU can run.
    fn vector_paths() -> Vec<Vectors> {
        let mut paths = vec![Vectors::Sse2];
        #[cfg(target_arch = "x86_64")]
        {
            if Masks::avx2_available() {
                paths.push(Vectors::Avx2);
            }
            if Vectors::detect() == Vectors::Avx512 {
                paths.push(Vectors::Avx512);
            }
        }
        paths
    }

    #[test]
    fn every_vector_path_builds_the_same_index() {
        let paths = vector_paths();
        let mut rng = fastrand::Rng::with_seed(512);
        let alphabet = b"\"\\\\\\{}[]a ";
        for _ in 0..2_000 {
            let len = rng.usize(..400);
            let line: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.usize(..alphabet.len())])
                .collect();
            let (quotes, opens, closes) = reference(&line);
            let bits = |at: &[usize]| {
                let mut words = vec![0u64; line.len() / 64 + 1];
                for &i in at {
                    words[i / 64] |= 1 << (i % 64);
                }
                words
            };
            let want = (bits(&quotes), bits(&opens), bits(&closes));
            let mut seen = Vec::new();
            for &vectors in &paths {
                for step in [false, true] {
                    let mut s = Structure {
                        vectors,
                        ..Structure::default()
                    };
                    s.start(line.len());
                    if step {
                        for word in 0..s.words {
                            s.reach(&line, word).unwrap();
                        }
                    } else {
                        s.reach(&line, line.len() / 64).unwrap();
                    }
                    assert_eq!(s.reach(&line, s.words), None);
                    let blocks = &s.blocks[..s.words];
                    let got = (
                        blocks.iter().map(|b| b.quotes).collect::<Vec<_>>(),
                        blocks.iter().map(|b| b.opens).collect::<Vec<_>>(),
                        blocks.iter().map(|b| b.closes).collect::<Vec<_>>(),
                    );
                    assert_eq!(got, want, "{vectors:?} {step} {line:?}");
                    let state = (
                        blocks
                            .iter()
                            .map(|b| (b.strings, b.depth_at))
                            .collect::<Vec<_>>(),
                        s.depth,
                        s.outer_end,
                        s.has_backslash,
                        s.in_string,
                        s.escape_next,
                    );
                    seen.push(state);
                }
            }
            assert!(seen.windows(2).all(|w| w[0] == w[1]), "{line:?}");
            assert_eq!(seen[0].3, line.contains(&b'\\'));
        }
    }

    #[test]
    fn a_quotes_only_index_finds_every_quote_byte_and_any_backslash() {
        let paths = vector_paths();
        let mut rng = fastrand::Rng::with_seed(64);
        let alphabet = b"\"{}[]a :,";
        for round in 0..1_000 {
            let len = rng.usize(..400);
            let mut line: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.usize(..alphabet.len())])
                .collect();
            // Every other line has one backslash somewhere.
            if round % 2 == 1 && len > 0 {
                line[rng.usize(..len)] = b'\\';
            }
            let quotes: Vec<usize> = (0..len).filter(|&i| line[i] == b'"').collect();
            for &vectors in &paths {
                let mut s = Structure {
                    vectors,
                    ..Structure::default()
                };
                s.start_quotes(line.len());
                let mut found = Vec::new();
                let mut from = 0;
                while let Some(at) = s.next_quote(&line, from) {
                    found.push(at);
                    from = at + 1;
                }
                assert_eq!(found, quotes, "{vectors:?} {line:?}");
                assert_eq!(s.has_backslash(), line.contains(&b'\\'), "{line:?}");
                // Brackets are not indexed, so they have no answer.
                let open = line.iter().position(|&b| b == b'{');
                assert_eq!(open.and_then(|at| s.container_end(&line, at)), None);
                let first = quotes.first().copied();
                assert_eq!(first.and_then(|at| s.opening_quote_depth(&line, at)), None);
                assert!(s.is_of_rest());
            }
        }
    }

    #[test]
    fn only_the_blocks_searched_are_indexed() {
        let mut line = br#"{"a":"b","#.to_vec();
        line.extend(std::iter::repeat_n(b'x', 1000));
        let mut s = Structure::new();
        s.start(line.len());
        assert_eq!(s.next_quote(&line, 2), Some(3));
        assert_eq!(s.indexed, 1);
        assert_eq!(s.next_quote(&line, 9), None);
        assert_eq!(s.indexed, line.len() / 64 + 1);
    }
}
