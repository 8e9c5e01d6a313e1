//! `keepwatch offsite keygen | list NAME | fetch NAME OBJECT --identity FILE -o OUT`: make the key pair
//! for `[[offsite]]` recipients, and find and decrypt copies from any machine. `list` and `fetch` need
//! only the config's target settings and credentials (no store): after a burglary, the owner runs them
//! elsewhere with a copy of the config and the identity file that was never on the box.

use super::ConfigArg;
use crate::Failure;
use clap::Subcommand;
use std::path::{Path, PathBuf};

#[derive(Subcommand, Debug)]
pub enum OffsiteCommand {
    /// Print a new age key pair: the recipient (age1...) goes into [[offsite]] recipients, the identity
    /// (AGE-SECRET-KEY-1...) must be kept OFF this machine.
    Keygen,
    /// List the copies on target NAME (from [[offsite]] in the config): name, size, time; newest first.
    List {
        name: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Download OBJECT from target NAME and decrypt it with the identity file into OUT (created 0600).
    Fetch {
        name: String,
        object: String,
        /// The age identity file (from `offsite keygen`).
        #[arg(long, value_name = "FILE")]
        identity: PathBuf,
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
        #[command(flatten)]
        config: ConfigArg,
    },
}

pub fn run(command: OffsiteCommand) -> Result<(), Failure> {
    match command {
        OffsiteCommand::Keygen => {
            let (secret, public) = kw_offsite::crypt::keygen();
            println!("# recipient (public key): put it into [[offsite]] recipients = [\"...\"]");
            println!("# {public}");
            println!("{secret}");
            eprintln!(
                "Save these lines as an identity file and keep it OFF this machine (a password manager, a USB \
                 stick in a drawer): whoever holds it can read every copy, and without it nobody can."
            );
            Ok(())
        }
        OffsiteCommand::List { name, config } => list(config.path(), &name),
        OffsiteCommand::Fetch { name, object, identity, output, config } => {
            fetch(config.path(), &name, &object, &identity, &output)
        }
    }
}

fn target(config: &Path, name: &str) -> Result<kw_offsite::Target, Failure> {
    let cfg = kw_config::load(config)?;
    let Some(o) = cfg.offsite.iter().find(|o| o.name == name) else {
        let known: Vec<&str> = cfg.offsite.iter().map(|o| o.name.as_str()).collect();
        return Err(Failure::usage(format!("no [[offsite]] target named {name:?} (known: {})", known.join(", "))));
    };
    kw_offsite::Target::open(o).map_err(|e| Failure::runtime(e.to_string()))
}

fn list(config: &Path, name: &str) -> Result<(), Failure> {
    let t = target(config, name)?;
    let mut all = super::runtime_for_one_command()?.block_on(t.list()).map_err(|e| Failure::runtime(e.to_string()))?;
    all.sort_by(|a, b| b.modified.cmp(&a.modified).then_with(|| a.name.cmp(&b.name)));
    for o in &all {
        let when = o.modified.map(crate::timefmt::format).unwrap_or_else(|| "-".into());
        println!("{}\t{}\t{}", o.name, o.size, when);
    }
    eprintln!("{} object(s) on {name}", all.len());
    Ok(())
}

fn fetch(config: &Path, name: &str, object: &str, identity: &Path, output: &Path) -> Result<(), Failure> {
    let meta = std::fs::metadata(identity).map_err(|e| Failure::usage(format!("{}: {e}", identity.display())))?;
    if meta.len() > 64 * 1024 {
        return Err(Failure::usage(format!("{}: too large for an identity file", identity.display())));
    }
    let text = std::fs::read_to_string(identity).map_err(|e| Failure::usage(format!("{}: {e}", identity.display())))?;
    let ids =
        kw_offsite::crypt::identities(&text).map_err(|e| Failure::usage(format!("{}: {e}", identity.display())))?;
    let t = target(config, name)?;
    let dir = output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let base = output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "copy".into());
    let cipher_path = dir.join(format!(".{base}.age.partial"));
    let plain_path = dir.join(format!(".{base}.partial"));
    let cleanup = || {
        let _ = std::fs::remove_file(&cipher_path);
        let _ = std::fs::remove_file(&plain_path);
    };
    let open = |p: &Path| -> Result<std::fs::File, Failure> {
        let f = crate::store_open::private_file()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(p)
            .map_err(|e| Failure::runtime(format!("{}: {e}", p.display())))?;
        f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .map_err(|e| Failure::runtime(format!("{}: {e}", p.display())))?;
        Ok(f)
    };
    let cipher = open(&cipher_path)?;
    let got = super::runtime_for_one_command()?.block_on(async {
        let mut f = tokio::fs::File::from_std(cipher);
        let n = t.fetch(object, &mut f).await?;
        tokio::io::AsyncWriteExt::flush(&mut f).await.map_err(|e| kw_offsite::OffsiteError::Io(e.to_string()))?;
        Ok::<_, kw_offsite::OffsiteError>(n)
    });
    if let Err(e) = got {
        cleanup();
        return Err(Failure::runtime(e.to_string()));
    }
    let decrypted = (|| -> Result<u64, String> {
        let input = std::io::BufReader::new(std::fs::File::open(&cipher_path).map_err(|e| e.to_string())?);
        let mut out = std::io::BufWriter::new(open(&plain_path).map_err(|e| e.message)?);
        let n = kw_offsite::crypt::decrypt(&ids, input, &mut out).map_err(|e| e.to_string())?;
        let f = out.into_inner().map_err(|e| e.to_string())?;
        f.sync_all().map_err(|e| e.to_string())?;
        std::fs::rename(&plain_path, output).map_err(|e| format!("{}: {e}", output.display()))?;
        Ok(n)
    })();
    cleanup();
    let n = decrypted.map_err(Failure::runtime)?;
    eprintln!("fetched {object} from {name}: {n} bytes decrypted to {}", output.display());
    Ok(())
}
