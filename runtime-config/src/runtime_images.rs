//! The upstream Kubeless `runtime-images` JSON shape (the `kubeless-config` ConfigMap key).
//!
//! Upstream parses this JSON into Go structs without json tags, so keys match the Go field
//! names **case-insensitively** (`ID`, `id` and `Id` are the same key; the documented
//! `runtimeImage`/`initImage` yaml tags of the legacy schema were never read). This module
//! does the same when reading, and writes the canonical spelling of the current schema:
//!
//! ```json
//! [ { "ID": "python", "depName": "requirements.txt", "fileNameSuffix": ".py",
//!     "versions": [ { "name": "python311", "version": "3.11",
//!                     "images": [ { "phase": "installation", "image": "…", "command": "…" },
//!                                 { "phase": "runtime", "image": "…", "env": { "PYTHONPATH": "…" } } ] } ] } ]
//! ```
//!
//! Keys inside `env` maps are environment variable names and stay case-sensitive;
//! `livenessProbeInfo` is a Kubernetes Probe and is kept as raw JSON.

use serde_json::{Map, Value, json};

use crate::catalogue::{Catalogue, Language, Phase, Runtime};

/// Why a `runtime-images` document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeImagesError {
    /// Not JSON at all.
    #[error("runtime-images is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// JSON, but not the expected shape; the message names the path.
    #[error("runtime-images: {0}")]
    Shape(String),
}

/// Reads a `runtime-images` document into a catalogue.
///
/// A version without a `runtime` phase image is kept with an empty image, as upstream does.
pub fn parse(text: &str) -> Result<Catalogue, RuntimeImagesError> {
    let value: Value = serde_json::from_str(text)?;
    let Value::Array(entries) = value else {
        return Err(shape("the document must be a JSON array of runtimes"));
    };
    let mut runtimes = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let at = format!("[{i}]");
        let obj = as_object(entry, &at)?;
        let lang_id =
            get_str(obj, "id", &at)?.ok_or_else(|| shape(&format!("{at}: missing ID")))?;
        let dep_file = get_str(obj, "depname", &at)?.unwrap_or_default();
        let suffix = get_str(obj, "filenamesuffix", &at)?.unwrap_or_default();
        for (j, version) in get_array(obj, "versions", &at)?.iter().enumerate() {
            let vat = format!("{at}.versions[{j}]");
            runtimes.push(parse_version(version, &vat, &lang_id, &dep_file, &suffix)?);
        }
    }
    Ok(Catalogue::from_runtimes(runtimes))
}

fn parse_version(
    version: &Value,
    at: &str,
    lang_id: &str,
    dep_file: &str,
    suffix: &str,
) -> Result<Runtime, RuntimeImagesError> {
    let obj = as_object(version, at)?;
    let mut runtime = Runtime {
        language: Language::from_id(lang_id),
        version: get_str(obj, "version", at)?
            .ok_or_else(|| shape(&format!("{at}: missing version")))?,
        version_name: get_str(obj, "name", at)?.unwrap_or_default(),
        dep_file: dep_file.to_owned(),
        suffix: suffix.to_owned(),
        image: String::new(),
        runtime_env: Vec::new(),
        install: None,
        compile: None,
    };
    for (k, image) in get_array(obj, "images", at)?.iter().enumerate() {
        let iat = format!("{at}.images[{k}]");
        let img = as_object(image, &iat)?;
        let phase_name = get_str(img, "phase", &iat)?.unwrap_or_default();
        let phase = Phase {
            image: get_str(img, "image", &iat)?.unwrap_or_default(),
            command: get_str(img, "command", &iat)?.unwrap_or_default(),
            env: get_env(img, &iat)?,
        };
        match phase_name.as_str() {
            "installation" => runtime.install = Some(phase),
            "compilation" => runtime.compile = Some(phase),
            "runtime" => {
                runtime.image = phase.image;
                runtime.runtime_env = phase.env;
            }
            other => return Err(shape(&format!("{iat}: unknown phase '{other}'"))),
        }
    }
    Ok(runtime)
}

/// Writes a catalogue in the canonical `runtime-images` shape, grouping versions by language.
pub fn render(catalogue: &Catalogue) -> String {
    let mut groups: Vec<(String, String, String, Vec<Value>)> = Vec::new();
    for rt in catalogue.runtimes() {
        let lang = rt.language.id().to_owned();
        let version = version_json(rt);
        match groups.iter_mut().find(|g| g.0 == lang) {
            Some(group) => group.3.push(version),
            None => groups.push((lang, rt.dep_file.clone(), rt.suffix.clone(), vec![version])),
        }
    }
    let doc: Vec<Value> = groups
        .into_iter()
        .map(|(id, dep, suffix, versions)| {
            json!({ "ID": id, "versions": versions, "depName": dep, "fileNameSuffix": suffix })
        })
        .collect();
    // A Vec<Value> always serialises.
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

fn version_json(rt: &Runtime) -> Value {
    let mut images = Vec::new();
    if let Some(p) = &rt.install {
        images.push(phase_json("installation", p));
    }
    if let Some(p) = &rt.compile {
        images.push(phase_json("compilation", p));
    }
    let runtime_phase = Phase {
        image: rt.image.clone(),
        command: String::new(),
        env: rt.runtime_env.clone(),
    };
    images.push(phase_json("runtime", &runtime_phase));
    json!({ "name": rt.version_name, "version": rt.version, "images": images })
}

fn phase_json(phase: &str, p: &Phase) -> Value {
    let mut obj = Map::new();
    obj.insert("phase".into(), phase.into());
    obj.insert("image".into(), p.image.clone().into());
    if !p.command.is_empty() {
        obj.insert("command".into(), p.command.clone().into());
    }
    if !p.env.is_empty() {
        let env: Map<String, Value> = p
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().into()))
            .collect();
        obj.insert("env".into(), Value::Object(env));
    }
    Value::Object(obj)
}

fn shape(msg: &str) -> RuntimeImagesError {
    RuntimeImagesError::Shape(msg.to_owned())
}

fn as_object<'a>(v: &'a Value, at: &str) -> Result<&'a Map<String, Value>, RuntimeImagesError> {
    v.as_object()
        .ok_or_else(|| shape(&format!("{at}: expected an object")))
}

/// Case-insensitive key lookup, as Go's encoding/json matches untagged field names.
fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn get_str(
    obj: &Map<String, Value>,
    key: &str,
    at: &str,
) -> Result<Option<String>, RuntimeImagesError> {
    match get_ci(obj, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(shape(&format!("{at}.{key}: expected a string"))),
    }
}

fn get_array<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    at: &str,
) -> Result<&'a [Value], RuntimeImagesError> {
    match get_ci(obj, key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(shape(&format!("{at}.{key}: expected an array"))),
    }
}

fn get_env(
    obj: &Map<String, Value>,
    at: &str,
) -> Result<Vec<(String, String)>, RuntimeImagesError> {
    match get_ci(obj, "env") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(shape(&format!("{at}.env.{k}: expected a string"))),
            })
            .collect(),
        Some(_) => Err(shape(&format!("{at}.env: expected an object"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalogue_round_trips() {
        let cat = Catalogue::builtin();
        let text = render(&cat);
        assert_eq!(parse(&text).expect("parses"), cat);
    }

    #[test]
    fn keys_match_case_insensitively_but_env_names_do_not_change() {
        let text = r#"[{"id":"python","DEPNAME":"requirements.txt","FileNameSuffix":".py",
            "Versions":[{"Name":"python38","VERSION":"3.8","Images":[
              {"Phase":"installation","Image":"python:3.8","Command":"pip install --prefix=$KUBELESS_INSTALL_VOLUME -r $KUBELESS_DEPS_FILE"},
              {"phase":"runtime","image":"kubeless/python@sha256:536e","env":{"PYTHONPATH":"$(KUBELESS_INSTALL_VOLUME)/lib/python3.8/site-packages:$(KUBELESS_INSTALL_VOLUME)"}}]}]}]"#;
        let cat = parse(text).expect("parses");
        let rt = cat.get("python3.8").expect("python3.8 present");
        assert_eq!(rt.image, "kubeless/python@sha256:536e");
        assert_eq!(rt.runtime_env[0].0, "PYTHONPATH");
        assert_eq!(
            rt.install.as_ref().map(|p| p.image.as_str()),
            Some("python:3.8")
        );
    }

    #[test]
    fn unknown_languages_are_kept() {
        let text = r#"[{"ID":"php","depName":"composer.json","fileNameSuffix":".php",
            "versions":[{"name":"php74","version":"7.4","images":[{"phase":"runtime","image":"kubeless/php"}]}]}]"#;
        let cat = parse(text).expect("parses");
        let rt = cat.get("php7.4").expect("present");
        assert_eq!(rt.language, Language::Other("php".into()));
        assert_eq!(parse(&render(&cat)).expect("re-parses"), cat);
    }

    #[test]
    fn bad_shapes_name_the_path() {
        let err = parse(
            r#"[{"ID":"python","versions":[{"version":"3.8","images":[{"phase":"build"}]}]}]"#,
        )
        .expect_err("unknown phase");
        assert!(
            err.to_string().contains("[0].versions[0].images[0]"),
            "{err}"
        );
        assert!(parse("{}").is_err());
        assert!(parse("not json").is_err());
    }
}
