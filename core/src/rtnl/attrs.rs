//! Netlink attributes and bounds-checked byte access: every read of a dump or of the store
//! goes through here, so no input can make the engine panic.

/// Iterates `(type without flags, payload)` over netlink attributes. Stops at the end or at
/// the first attribute that overruns the buffer (then `bad` is set). Up to 3 trailing bytes
/// are padding, as `nla_parse` tolerates.
/// Strips `NLA_F_NESTED` and `NLA_F_NET_BYTEORDER` from an attribute type.
const NLA_TYPE_MASK: u16 = 0x3fff;

pub(super) struct Attrs<'b> {
    rest: &'b [u8],
    bad: bool,
}

impl<'b> Attrs<'b> {
    pub(super) fn new(b: &'b [u8]) -> Self {
        Attrs {
            rest: b,
            bad: false,
        }
    }
}

impl<'b> Iterator for Attrs<'b> {
    type Item = (u16, &'b [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.len() < 4 {
            return None;
        }
        let len = rd_u16(self.rest, 0).unwrap_or(0) as usize;
        let ty = rd_u16(self.rest, 2).unwrap_or(0) & NLA_TYPE_MASK;
        let Some(payload) = self.rest.get(4..len) else {
            self.bad = true;
            self.rest = &[];
            return None;
        };
        self.rest = self.rest.get(align4(len)..).unwrap_or(&[]);
        Some((ty, payload))
    }
}

pub(super) fn well_formed(b: &[u8]) -> bool {
    let mut it = Attrs::new(b);
    for _ in it.by_ref() {}
    !it.bad
}

pub(super) fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

pub(super) fn rd_u16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_ne_bytes(s.try_into().ok()?))
}

pub(super) fn rd_u32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_ne_bytes(s.try_into().ok()?))
}

pub(super) fn wr_u16(b: &mut [u8], at: usize, v: u16) {
    if let Some(s) = at.checked_add(2).and_then(|end| b.get_mut(at..end)) {
        copy(s, &v.to_ne_bytes());
    }
}

pub(super) fn wr_u32(b: &mut [u8], at: usize, v: u32) {
    if let Some(s) = at.checked_add(4).and_then(|end| b.get_mut(at..end)) {
        copy(s, &v.to_ne_bytes());
    }
}

/// Copies as much of `src` as fits into `dst` (never panics on a length mismatch).
pub(super) fn copy(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = *s;
    }
}
