//! LEB128 varints and zigzag: the compact encoding of per-frame index blobs (one blob per segment, not a
//! row per frame).

/// Appends `v` as an unsigned LEB128 varint.
pub fn put_u64(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends `v` zigzag-encoded.
pub fn put_i64(out: &mut Vec<u8>, v: i64) {
    put_u64(out, ((v << 1) ^ (v >> 63)) as u64);
}

/// Reads an unsigned varint at `*pos`, advancing it. `None` on truncated or overlong input.
pub fn get_u64(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    let mut shift = 0u32;
    loop {
        let b = *buf.get(*pos)?;
        *pos += 1;
        if shift >= 64 {
            return None;
        }
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
        shift += 7;
    }
}

/// Reads a zigzag varint.
pub fn get_i64(buf: &[u8], pos: &mut usize) -> Option<i64> {
    let u = get_u64(buf, pos)?;
    Some(((u >> 1) as i64) ^ -((u & 1) as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let vals = [0i64, 1, -1, 63, -64, 3600, -3600, i64::MAX, i64::MIN];
        let mut buf = Vec::new();
        for v in vals {
            put_i64(&mut buf, v);
        }
        let mut pos = 0;
        for v in vals {
            assert_eq!(get_i64(&buf, &mut pos), Some(v));
        }
        assert_eq!(pos, buf.len());
        assert_eq!(get_u64(&[0x80], &mut 0), None);
    }
}
