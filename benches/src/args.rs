//! The `--name value` command lines of the benchmark drivers, and their `main`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

/// Options given as `--name value` pairs, taken one by one; what is left is an error.
pub struct Args(BTreeMap<String, String>);

impl Args {
    /// Reads `--name value` pairs.
    pub fn parse(args: Vec<String>) -> Result<Args, String> {
        let mut values = BTreeMap::new();
        let mut it = args.into_iter();
        while let Some(flag) = it.next() {
            let name = flag
                .strip_prefix("--")
                .ok_or_else(|| format!("unexpected argument {flag:?}"))?;
            let value = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
            values.insert(name.to_owned(), value);
        }
        Ok(Args(values))
    }

    /// The value of `--name`, if given.
    pub fn take(&mut self, name: &str) -> Option<String> {
        self.0.remove(name)
    }

    /// The path `--name`, which must be given.
    pub fn path(&mut self, name: &str) -> Result<PathBuf, String> {
        self.take(name)
            .map(PathBuf::from)
            .ok_or_else(|| format!("--{name} is required"))
    }

    /// The whole number `--name`, `default` when not given.
    pub fn number(&mut self, name: &str, default: u64) -> Result<u64, String> {
        self.take(name).map_or(Ok(default), |v| {
            v.parse()
                .map_err(|_| format!("--{name}: {v:?} is not a whole number"))
        })
    }

    /// A comma-separated list `--name`, if given.
    pub fn list(&mut self, name: &str) -> Option<Vec<String>> {
        self.take(name)
            .map(|names| names.split(',').map(str::to_owned).collect())
    }

    /// Fails on an option nobody took.
    pub fn finish(self) -> Result<(), String> {
        match self.0.keys().next() {
            Some(unknown) => Err(format!("unknown option --{unknown}")),
            None => Ok(()),
        }
    }
}

/// What the load drivers all take: the binaries, the functions, the rounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Common {
    /// The fnhost under test (`--fnhost`).
    pub fnhost: PathBuf,
    /// The bare hyper server (`--baseline`).
    pub baseline: PathBuf,
    /// `benches/functions` (`--functions`).
    pub functions: PathBuf,
    /// Interleaved rounds (`--rounds`, default 3).
    pub rounds: usize,
}

impl Args {
    /// `--fnhost`, `--baseline`, `--functions` and `--rounds`.
    pub fn common(&mut self) -> Result<Common, String> {
        Ok(Common {
            fnhost: self.path("fnhost")?,
            baseline: self.path("baseline")?,
            functions: self.path("functions")?,
            rounds: usize::try_from(self.number("rounds", 3)?).map_err(|e| e.to_string())?,
        })
    }
}

/// A driver's `main`: options from the command line by `parse` (a mistake exits 64), then
/// `run` (a failure exits 1); each error printed after the driver's `name`.
pub fn main_with<O>(
    name: &str,
    parse: impl FnOnce(&mut Args) -> Result<O, String>,
    run: impl FnOnce(&O) -> Result<(), String>,
) -> ExitCode {
    let options = Args::parse(std::env::args().skip(1).collect()).and_then(|mut args| {
        let options = parse(&mut args)?;
        args.finish()?;
        Ok(options)
    });
    let options = match options {
        Ok(options) => options,
        Err(e) => {
            eprintln!("{name}: {e}");
            return ExitCode::from(64);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Args {
        Args::parse(list.iter().map(|s| (*s).to_owned()).collect()).expect("parses")
    }

    #[test]
    fn options_are_taken_and_leftovers_refused() {
        let mut a = args(&["--rounds", "3", "--fnhost", "/bin/fnhost", "--only", "a,b"]);
        assert_eq!(a.number("rounds", 1), Ok(3));
        assert_eq!(a.number("seconds", 10), Ok(10));
        assert_eq!(a.path("fnhost"), Ok(PathBuf::from("/bin/fnhost")));
        assert!(a.path("baseline").is_err());
        assert_eq!(a.list("only"), Some(vec!["a".to_owned(), "b".to_owned()]));
        assert_eq!(a.finish(), Ok(()));
        assert!(args(&["--typo", "1"]).finish().is_err());
        assert!(Args::parse(vec!["--rounds".to_owned()]).is_err());
    }
}
