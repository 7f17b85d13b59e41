//! End to end with the original client: the unmodified kubeless CLI v1.0.8 (built from the Go
//! module proxy by `scripts/k8s/build-kubeless-cli.sh`) deploys, lists, triggers, autoscales
//! and deletes a function against kube-apiserver 1.20.2, with fnhost's install manifest and
//! reconciler (running as its service account). The CLI validates `--runtime` against fnhost's
//! `kubeless-config`, so this also proves the shipped `runtime-images` is readable by it.

#![allow(
    clippy::expect_used,
    reason = "a broken setup should stop the test loudly"
)]

mod support;

use fnhost_reconciler::controller;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, DynamicObject};
use support::{
    ControlPlane, eventually, eventually_get, install, kubeless, reconciler_client, resource,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubeless_cli_deploys_lists_triggers_autoscales_and_deletes() {
    let plane = ControlPlane::start();
    let admin = fnhost_reconciler::connect(Some(plane.kubeconfig.to_str().expect("utf-8")))
        .await
        .expect("client");
    install(&admin).await;
    let context = fnhost_reconciler::context(
        reconciler_client(&plane.kubeconfig).await,
        ("kubeless", "kubeless-config"),
    )
    .await
    .expect("context");
    let metrics = context.metrics.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let reconciler = tokio::spawn(controller::run(context, async move {
        let _ = stopped.await;
    }));

    let workdir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        workdir.path().join("helloget.py"),
        "def foo(event, context):\n    return 'hello world'\n",
    )
    .expect("write");
    std::fs::write(
        workdir.path().join("requirements.txt"),
        "beautifulsoup4==4.12.3\n",
    )
    .expect("write");
    let kc = plane.kubeconfig.as_path();
    let wd = workdir.path();

    kubeless(
        kc,
        wd,
        &[
            "function",
            "deploy",
            "get-python",
            "--runtime",
            "python3.11",
            "--from-file",
            "helloget.py",
            "--handler",
            "helloget.foo",
            "--dependencies",
            "requirements.txt",
            "--env",
            "foo=bar",
            "--memory",
            "128Mi",
        ],
    );
    let deployments: Api<Deployment> = Api::namespaced(admin.clone(), "default");
    let deployment = eventually("the CLI's function becomes a Deployment", || {
        let deployments = deployments.clone();
        async move { deployments.get("get-python").await.ok() }
    })
    .await;
    // The CLI's Function was applied at the first attempt: the finalizer is added without a
    // JSON patch `test` that a 1.20 API server refuses with 422 (a retry 5 s later).
    assert_eq!(
        metrics.count("Function", "error"),
        0,
        "failed reconciles of the CLI's new Function"
    );
    let pod = deployment
        .spec
        .and_then(|s| s.template.spec)
        .expect("pod spec");
    let env: Vec<(String, String)> = pod.containers[0]
        .env
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|e| (e.name, e.value.unwrap_or_default()))
        .collect();
    assert_eq!(
        env[0],
        ("foo".to_owned(), "bar".to_owned()),
        "user env first"
    );
    assert!(
        env.contains(&("FUNC_MEMORY_LIMIT".to_owned(), "128Mi".to_owned())),
        "{env:?}"
    );
    assert!(env.contains(&("MOD_NAME".to_owned(), "helloget".to_owned())));
    let init: Vec<String> = pod
        .init_containers
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(
        init,
        ["prepare", "install"],
        "deps from --dependencies are installed"
    );

    let listed = kubeless(kc, wd, &["function", "ls"]);
    assert!(
        listed.contains("get-python")
            && listed.contains("python3.11")
            && listed.contains("helloget.foo"),
        "{listed}"
    );

    kubeless(
        kc,
        wd,
        &[
            "trigger",
            "cronjob",
            "create",
            "get-python-cron",
            "--function",
            "get-python",
            "--schedule",
            "*/5 * * * *",
        ],
    );
    let cronjobs: Api<DynamicObject> = Api::namespaced_with(
        admin.clone(),
        "default",
        &resource("batch", "v1beta1", "CronJob", "cronjobs"),
    );
    let cronjob = eventually_get(&cronjobs, "trigger-get-python").await;
    assert_eq!(cronjob.data["spec"]["schedule"], "*/5 * * * *");

    kubeless(
        kc,
        wd,
        &[
            "autoscale",
            "create",
            "get-python",
            "--metric",
            "cpu",
            "--min",
            "1",
            "--max",
            "3",
            "--value",
            "70",
        ],
    );
    let hpas: Api<DynamicObject> = Api::namespaced_with(
        admin.clone(),
        "default",
        &resource(
            "autoscaling",
            "v2beta2",
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
        ),
    );
    let hpa = eventually_get(&hpas, "get-python").await;
    assert_eq!(hpa.data["spec"]["maxReplicas"], 3);
    assert_eq!(hpa.data["spec"]["scaleTargetRef"]["apiVersion"], "apps/v1");

    kubeless(kc, wd, &["function", "delete", "get-python"]);
    eventually("the Deployment goes with the function", || {
        let deployments = deployments.clone();
        async move { deployments.get("get-python").await.is_err().then_some(()) }
    })
    .await;

    let _ = stop.send(());
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), reconciler).await;
}
