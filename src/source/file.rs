//! A JSONL file of events, one per line, with line numbers for dead letters.

use std::io::BufRead;

/// One input line: its number (1-based) and text, or the bytes that were not UTF-8.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub number: u64,
    pub text: Result<String, Vec<u8>>,
    /// Bytes consumed including the newline, for progress.
    pub bytes: u64,
}

/// Reads lines; blank lines are skipped (but counted for numbering).
pub struct JsonlLines<R> {
    reader: R,
    number: u64,
    buf: Vec<u8>,
}

impl<R: BufRead> JsonlLines<R> {
    pub fn new(reader: R) -> Self {
        JsonlLines {
            reader,
            number: 0,
            buf: Vec::with_capacity(1024),
        }
    }
}

impl<R: BufRead> Iterator for JsonlLines<R> {
    type Item = std::io::Result<Line>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.buf.clear();
            let n = match self.reader.read_until(b'\n', &mut self.buf) {
                Ok(0) => return None,
                Ok(n) => n as u64,
                Err(e) => return Some(Err(e)),
            };
            self.number += 1;
            let trimmed = self.buf.trim_ascii();
            if trimmed.is_empty() {
                continue;
            }
            let text = std::str::from_utf8(trimmed)
                .map(str::to_owned)
                .map_err(|_| trimmed.to_vec());
            return Some(Ok(Line {
                number: self.number,
                text,
                bytes: n,
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_lines_and_keeps_bad_bytes() {
        let input: &[u8] = b"{\"a\":1}\n\n\xff\xfe\n{\"b\":2}";
        let lines: Vec<Line> = JsonlLines::new(input).map(Result::unwrap).collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].text.as_deref(), Ok("{\"a\":1}"));
        assert_eq!(lines[1].number, 3);
        assert_eq!(lines[1].text, Err(vec![0xff, 0xfe]));
        assert_eq!(lines[2].number, 4);
    }
}
