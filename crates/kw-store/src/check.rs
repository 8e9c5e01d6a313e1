//! [`Store::check`]: verifying every index row against its segment file, and repairing on request.
//!
//! Why separate from recovery: recovery is cheap (sizes only) and runs on every start; check reads
//! every byte and verifies every frame checksum, so it runs when a person asks (`keepwatch check`),
//! possibly while the recorder runs in another process. It therefore only reports by default, and
//! leaves files without rows alone even when repairing: such a file may be the segment the recorder is
//! writing right now, and the recorder's own recovery indexes crash leftovers on its next start.

use std::collections::{HashMap, HashSet};
use std::fmt;

use kw_media::RunInfo;

use crate::backend::SegmentKey;
use crate::error::StoreError;
use crate::frame_index;
use crate::index::SegmentRow;
use crate::recover::{Outcome, RecoveryReport};
use crate::scan::scan;
use crate::store::Store;

/// What is wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProblemKind {
    /// The row's file does not exist.
    MissingFile,
    /// The file is shorter than the row says.
    ShortFile,
    /// The file cannot be read (I/O error).
    Unreadable,
    /// The file header is invalid or does not match the row or its run.
    BadHeader,
    /// A frame record is damaged (checksum mismatch or torn record).
    BadFrame,
    /// The row's frame index does not match the file.
    BadIndex,
    /// A deleted segment is still on the garbage list (its file may still use space).
    PendingGarbage,
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub kind: ProblemKind,
    /// Segment name, `<camera_id>/<run_id>-<seq>.kws`.
    pub name: String,
    pub segment_id: Option<i64>,
    pub detail: String,
}

/// What [`Store::check`] found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    pub segments_checked: u64,
    pub frames_checked: u64,
    pub bytes_checked: u64,
    pub problems: Vec<Problem>,
    /// Things worth knowing that are not problems (files without rows, unknown files).
    pub notes: Vec<String>,
    /// What repair did (empty unless repair was asked for).
    pub repaired: Vec<String>,
    pub repair: bool,
}

impl CheckReport {
    /// True when no problem was found.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "checked {} segments ({} frames, {} bytes)",
            self.segments_checked, self.frames_checked, self.bytes_checked
        )?;
        if !self.problems.is_empty() {
            writeln!(f, "problems ({}):", self.problems.len())?;
            for p in &self.problems {
                match p.segment_id {
                    Some(id) => writeln!(f, "  {} (segment {id}): {}", p.name, p.detail)?,
                    None => writeln!(f, "  {}: {}", p.name, p.detail)?,
                }
            }
        }
        if !self.repaired.is_empty() {
            writeln!(f, "repaired ({}):", self.repaired.len())?;
            for r in &self.repaired {
                writeln!(f, "  {r}")?;
            }
        }
        if !self.notes.is_empty() {
            writeln!(f, "notes:")?;
            for n in &self.notes {
                writeln!(f, "  {n}")?;
            }
        }
        if self.is_clean() {
            writeln!(f, "result: clean")
        } else if self.repair {
            writeln!(f, "result: {} problems found and repaired as listed", self.problems.len())
        } else {
            writeln!(f, "result: {} problems found; run check with repair to fix them", self.problems.len())
        }
    }
}

impl Store {
    /// Verifies every row: the file exists, its length covers the frame index, the header matches
    /// the row and its run, and every frame checksum is right. Also lists pending garbage and files
    /// without rows. With `repair`, removes rows without data, re-indexes damaged segments from their
    /// valid prefix and unlinks pending garbage.
    pub fn check(&self, repair: bool) -> Result<CheckReport, StoreError> {
        let mut rep = CheckReport { repair, ..CheckReport::default() };
        self.check_garbage(&mut rep)?;
        let root = self.segs().root();
        let listed = self.segs().list().map_err(|e| crate::error::io_err(&root, e))?;
        let open: HashSet<SegmentKey> = self.open_keys().into_iter().collect();
        let mut files = HashMap::new();
        for l in listed {
            match l.key {
                Some(k) => {
                    files.insert(k, l.size);
                }
                None => rep.notes.push(format!("{}: not a segment file (ignored)", l.name)),
            }
        }
        let mut runs: HashMap<i64, Option<(i64, RunInfo)>> = HashMap::new();
        for (camera_id, _) in self.index().cameras()? {
            for row in self.index().segments(camera_id, i64::MIN, i64::MAX)? {
                files.remove(&row.key());
                // The size now, not at listing time: the recorder (another process) may have
                // finished this segment since.
                let size = self.segs().size(&row.key()).map_err(|e| self.seg_err(&row.key(), e))?;
                rep.segments_checked += 1;
                let run = match runs.get(&row.run_id) {
                    Some(r) => r.clone(),
                    None => {
                        let r = self.index().run(row.run_id)?;
                        runs.insert(row.run_id, r.clone());
                        r
                    }
                };
                if let Some((kind, detail)) = self.check_row(&row, size, run.as_ref(), &mut rep)? {
                    rep.problems.push(Problem { kind, name: row.key().name(), segment_id: Some(row.id), detail });
                    if repair {
                        self.repair_row(&row, kind, size, &mut rep)?;
                    }
                }
            }
        }
        let mut rest: Vec<_> = files.into_iter().filter(|(k, _)| !open.contains(k)).collect();
        rest.sort();
        for (key, size) in rest {
            if self.index().segment(key.run_id, key.seq)?.is_some() {
                continue; // finished by the recorder while we checked
            }
            let readable = match self.segs().open(&key).map(|r| scan(&*r, size)) {
                Ok(Ok(Ok(s))) => format!("{} whole frames in its first {} bytes", s.frames.len(), s.valid_len),
                Ok(Ok(Err(why))) => format!("unreadable: {why}"),
                Ok(Err(e)) | Err(e) => format!("unreadable: {e}"),
            };
            rep.notes.push(format!(
                "{}: {size} bytes without an index row, {readable} (being recorded now, or left by a \
                 crash; the recorder recovers it when it starts)",
                key.name()
            ));
        }
        Ok(rep)
    }

    fn check_garbage(&self, rep: &mut CheckReport) -> Result<(), StoreError> {
        for name in self.index().garbage()? {
            rep.problems.push(Problem {
                kind: ProblemKind::PendingGarbage,
                name: name.clone(),
                segment_id: None,
                detail: "deleted, but its file has not been removed yet".into(),
            });
            if rep.repair {
                if let Some(key) = SegmentKey::parse(&name) {
                    self.segs().delete(&key).map_err(|e| self.seg_err(&key, e))?;
                }
                self.index().remove_garbage(&name)?;
                rep.repaired.push(format!("{name}: removed"));
            }
        }
        Ok(())
    }

    /// Verifies one row; `Some` describes the first problem found.
    fn check_row(
        &self,
        row: &SegmentRow,
        size: Option<u64>,
        run: Option<&(i64, RunInfo)>,
        rep: &mut CheckReport,
    ) -> Result<Option<(ProblemKind, String)>, StoreError> {
        use ProblemKind::*;
        let Some(blob) = self.index().frame_index(row.id)? else {
            return Ok(None); // deleted meanwhile (retention in the recorder)
        };
        let Some(size) = size else {
            return Ok(Some((MissingFile, "the file is missing".into())));
        };
        if size < row.bytes {
            return Ok(Some((ShortFile, format!("the file has {size} bytes, the index says {}", row.bytes))));
        }
        let (data_start, want) = match frame_index::decode(&blob) {
            Ok(v) => v,
            Err(e) => return Ok(Some((BadIndex, e))),
        };
        let covered = want.last().map(|f| f.end_offset()).unwrap_or(data_start);
        if covered != row.bytes {
            return Ok(Some((BadIndex, format!("the frame index covers {covered} bytes, the row says {}", row.bytes))));
        }
        let key = row.key();
        let reader = match self.segs().open(&key) {
            Ok(r) => r,
            Err(e) => return Ok(Some((Unreadable, format!("cannot open: {e}")))),
        };
        let s = match scan(&*reader, row.bytes) {
            Ok(Ok(s)) => s,
            Ok(Err(why)) => return Ok(Some((BadHeader, why))),
            Err(e) => return Ok(Some((Unreadable, format!("cannot read: {e}")))),
        };
        rep.bytes_checked += s.valid_len;
        let h = &s.header;
        if h.store_id != self.id() || (h.camera_id, h.run_id, h.seq) != (row.camera_id, row.run_id, row.seq) {
            return Ok(Some((BadHeader, "the header names another store or segment".into())));
        }
        match run {
            None => return Ok(Some((BadIndex, format!("run {} is not in the index", row.run_id)))),
            Some((_, r)) if *r != h.run => {
                return Ok(Some((BadHeader, format!("the header's stream parameters differ from run {}", row.run_id))))
            }
            Some(_) => {}
        }
        rep.frames_checked += s.frames.len() as u64;
        if s.frames.len() < want.len() {
            let why = s.stop.unwrap_or_default();
            return Ok(Some((BadFrame, format!("frame {} of {}: {why}", s.frames.len() + 1, want.len()))));
        }
        if let Some(i) = s.frames.iter().zip(&want).position(|(a, b)| a != b) {
            return Ok(Some((BadIndex, format!("frame {} differs between the index and the file", i + 1))));
        }
        if u64::from(row.video_frames) != s.extent.video_frames() {
            return Ok(Some((
                BadIndex,
                format!("the row counts {} video frames, the file has {}", row.video_frames, s.extent.video_frames()),
            )));
        }
        Ok(None)
    }

    fn repair_row(
        &self,
        row: &SegmentRow,
        kind: ProblemKind,
        size: Option<u64>,
        rep: &mut CheckReport,
    ) -> Result<(), StoreError> {
        let name = row.key().name();
        self.index().delete_segment(row.id)?;
        let Some(size) = size.filter(|_| kind != ProblemKind::MissingFile) else {
            rep.repaired.push(format!("{name}: removed the index row"));
            return Ok(());
        };
        let mut sub = RecoveryReport::default();
        let outcome = self.reindex(&row.key(), size)?;
        let text = match &outcome {
            Outcome::Indexed(r) => {
                format!("{name}: re-indexed {} valid frames ({} bytes cut off)", r.frames, r.truncated)
            }
            Outcome::Removed(why) => format!("{name}: removed the row and the file ({why})"),
            Outcome::LeftAlone(why) => format!("{name}: removed the row, left the file ({why})"),
        };
        outcome.record(name, &mut sub);
        rep.repaired.push(text);
        Ok(())
    }
}
