//! `keepwatch export`: one recorded range as one MP4, built from the index by our muxer (no re-encoding),
//! written to a temporary file beside the target and renamed into place when complete, with a progress
//! bar when stderr is a terminal. The file is created 0600 (it is video; share it on purpose), and the
//! range is not capped as `video.mp4`'s is: the one running it pays for it (memory grows with the frames).

use crate::Failure;
use kw_media::WallMicros;
use std::io::IsTerminal;
use std::path::Path;

pub fn run(config: &Path, camera: &str, start: &str, end: &str, output: &Path) -> Result<(), Failure> {
    let start: WallMicros = super::time_arg("start", start)?;
    let end: WallMicros = super::time_arg("end", end)?;
    let cfg = kw_config::load(config)?;
    if end <= start {
        return Err(Failure::usage("--end must be after --start"));
    }
    let store = crate::store_open::open_existing(config, &cfg)?;
    let playable = crate::playback::build(&store, camera, start, end).map_err(|e| Failure::runtime(e.to_string()))?;
    let total = playable.file.len();
    let bar = if std::io::stderr().is_terminal() {
        let b = indicatif::ProgressBar::new(total);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
        {
            b.set_style(style);
        }
        Some(b)
    } else {
        None
    };
    let dir = output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "export.mp4".into());
    let tmp = dir.join(format!(".{name}.partial"));
    let io_err = |e: std::io::Error| Failure::runtime(format!("writing {}: {e}", output.display()));
    let write = || -> std::io::Result<()> {
        let f = crate::store_open::private_file().write(true).create(true).truncate(true).open(&tmp)?;
        // A stale partial file keeps its mode through `create`: make it private whatever it was.
        f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
        playable.write_to(&mut w, |done| {
            if let Some(b) = &bar {
                b.set_position(done);
            }
        })?;
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        std::fs::rename(&tmp, output)?;
        Ok(())
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err(e));
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    eprintln!(
        "exported {} .. {} ({} bytes) to {}",
        crate::timefmt::format(playable.start),
        crate::timefmt::format(playable.end),
        total,
        output.display()
    );
    Ok(())
}
