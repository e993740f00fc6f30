//! Identity: the key that makes two dumped objects "the same object" (the table in the module
//! documentation of [`super`]).

use super::attrs::*;
use super::msg::*;

/// Longest key: an IPv6 route's family, lengths, tos (4) + table (4) + priority (4) +
/// 3 x (1 + 16) addresses + oif (4).
const KEY_MAX: usize = 72;

pub(super) struct KeyBuf {
    buf: [u8; KEY_MAX],
    len: usize,
}

impl KeyBuf {
    pub(super) fn new() -> Self {
        KeyBuf {
            buf: [0; KEY_MAX],
            len: 0,
        }
    }

    pub(super) fn push(&mut self, b: &[u8]) -> Result<(), Error> {
        let end = self.len.checked_add(b.len()).ok_or(Error::Malformed)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(Error::Malformed)?;
        dst.copy_from_slice(b);
        self.len = end;
        Ok(())
    }

    /// An address with its length in front, so that keys of different shapes never collide.
    pub(super) fn push_addr(&mut self, a: Option<&[u8]>) -> Result<(), Error> {
        let a = a.unwrap_or(&[]);
        if a.len() > 16 {
            return Err(Error::Malformed);
        }
        self.push(&[a.len() as u8])?;
        self.push(a)
    }

    pub(super) fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

/// Writes the key of `body` into `key`. Returns false for an object this kind does not track.
pub(super) fn extract_key(kind: Kind, body: &[u8], key: &mut KeyBuf) -> Result<bool, Error> {
    let hdr = body.get(..kind.header_len()).ok_or(Error::Malformed)?;
    let attrs = Attrs::new(body.get(kind.header_len()..).unwrap_or(&[]));
    let family = hdr.first().copied().unwrap_or(0);
    let field = |from: usize, to: usize| hdr.get(from..to).ok_or(Error::Malformed);
    match kind {
        Kind::Link => key.push(field(4, 8)?)?,
        Kind::Addr => {
            if kind.group(family).is_none() {
                return Ok(false);
            }
            let (mut address, mut local) = (None, None);
            for (t, p) in attrs {
                match t {
                    IFA_ADDRESS => address = Some(p),
                    IFA_LOCAL => local = Some(p),
                    _ => {}
                }
            }
            key.push(field(0, 2)?)?; // family, prefixlen
            key.push(field(4, 8)?)?; // ifindex
            key.push_addr(local.or(address))?;
            if family == AF_INET && local.is_some() {
                key.push_addr(address)?;
            }
        }
        Kind::Route => {
            if kind.group(family).is_none() {
                return Ok(false);
            }
            let (mut dst, mut src, mut prio, mut table) = (None, None, 0u32, None);
            let (mut gateway, mut oif) = (None, 0u32);
            for (t, p) in attrs {
                match t {
                    RTA_DST => dst = Some(p),
                    RTA_SRC => src = Some(p),
                    RTA_GATEWAY => gateway = Some(p),
                    RTA_OIF => oif = rd_u32(p, 0).ok_or(Error::Malformed)?,
                    RTA_PRIORITY => prio = rd_u32(p, 0).ok_or(Error::Malformed)?,
                    RTA_TABLE => table = Some(rd_u32(p, 0).ok_or(Error::Malformed)?),
                    _ => {}
                }
            }
            let table = table.unwrap_or(u32::from(hdr.get(4).copied().unwrap_or(0)));
            key.push(field(0, 4)?)?; // family, dst_len, src_len, tos
            key.push(&table.to_be_bytes())?;
            key.push(&prio.to_be_bytes())?;
            key.push_addr(dst)?;
            key.push_addr(src)?;
            if family == AF_INET6 {
                // fib6 keeps routes of one prefix and metric apart by next hop (fe80::/64
                // and ff00::/8 exist once per device).
                key.push_addr(gateway)?;
                key.push(&oif.to_be_bytes())?;
            }
        }
        Kind::Neigh => {
            if kind.group(family).is_none() {
                return Ok(false);
            }
            let dst = attrs.filter(|(t, _)| *t == NDA_DST).map(|(_, p)| p).next();
            key.push(&[family])?;
            key.push(field(4, 8)?)?;
            key.push_addr(dst)?;
        }
    }
    Ok(true)
}
