//! `fnhost-reconciler`: the cluster side of fnhost.
//!
//! - `fnhost-reconciler crds`: prints the CRD manifests generated from the Rust types.
//! - `fnhost-reconciler render FUNCTION.yaml`: prints the objects a Function becomes (JSON,
//!   one per line), without a cluster: what the reconciler would apply.

use std::process::ExitCode;

use fnhost_reconciler::crd::Function;
use fnhost_reconciler::objects::{self, ClusterConfig, HpaVersion, Owner};
use fnhost_runtime_config::catalogue::Catalogue;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["crds"] => fnhost_reconciler::crd::crds_yaml()
            .map(|yaml| print!("{yaml}"))
            .map_err(|e| e.to_string()),
        ["render", path] => render(path),
        _ => {
            eprintln!("usage: fnhost-reconciler crds | render FUNCTION.yaml");
            return ExitCode::from(64);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fnhost-reconciler: {e}");
            ExitCode::FAILURE
        }
    }
}

fn render(path: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let function: Function =
        serde_yaml::from_str(&text).map_err(|e| format!("{path}: not a Function: {e}"))?;
    let catalogue = Catalogue::builtin();
    let runtime = catalogue.get(&function.spec.runtime).ok_or_else(|| {
        format!(
            "runtime {:?} is not in the catalogue ({})",
            function.spec.runtime,
            catalogue.ids().join(", ")
        )
    })?;
    let owner = Owner::new(&function);
    let config = ClusterConfig::default();
    let mut out = vec![
        objects::config_map(&owner, runtime).map_err(|e| e.to_string())?,
        objects::deployment(&owner, runtime, &config).map_err(|e| e.to_string())?,
        objects::service(&owner).map_err(|e| e.to_string())?,
    ];
    if let Some(hpa) = objects::horizontal_pod_autoscaler(&owner, HpaVersion::V2beta2)
        .map_err(|e| e.to_string())?
    {
        out.push(hpa);
    }
    for object in out {
        println!("{object}");
    }
    Ok(())
}
