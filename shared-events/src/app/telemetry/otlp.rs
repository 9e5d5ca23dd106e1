//! Traces over OTLP/HTTP, configured by the standard `OTEL_*` variables.
//!
//! Each service of the process gets a tracer provider of its own, with its own resource (its
//! `service.name`) and batch exporter; a [`RoutingTracer`] hands each span to the provider of
//! the service whose work it is part of, which the span that starts that work names in its
//! context ([`ServiceTag`]). A service binary has one provider, which takes every span.
//!
//! The batch processor runs on its own thread: a span's end only queues it (and drops it when
//! the queue is full), so neither a slow nor an absent collector ever holds a request up.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use opentelemetry::trace::{SpanBuilder, Tracer, TracerProvider};
use opentelemetry::{Context, Key};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::resource::{EnvResourceDetector, ResourceDetector};
use opentelemetry_sdk::trace::{
    Sampler, SdkTracer, SdkTracerProvider, SpanData, SpanExporter as SdkSpanExporter,
};

use crate::app::secret_url::SecretUrl;
use crate::app::telemetry::context::ServiceTag;
use crate::app::telemetry::{FLUSH_TIMEOUT, ServiceNames};

/// The instrumentation scope of every span.
const SCOPE: &str = "order-platform";

/// What the process exports with, once configured.
pub(crate) struct Exporting {
    /// The tracer the OpenTelemetry layer starts spans with.
    pub(crate) tracer: RoutingTracer,
    /// Every provider, to shut down at the end.
    pub(crate) providers: Vec<SdkTracerProvider>,
}

/// The exporter's configuration, from the `OTEL_*` variables.
#[derive(Debug, Clone, PartialEq)]
struct OtlpConfig {
    sampler: SamplerChoice,
    secrets: EndpointSecrets,
}

/// The credentials in the endpoints' URLs, which the exporter's errors quote (reqwest names the
/// URL it failed on): hidden from every message before it is logged.
#[derive(Debug, Clone, Default, PartialEq)]
struct EndpointSecrets {
    /// Each endpoint that is not a URL, and how it may be shown.
    endpoints: Vec<(String, String)>,
    /// The passwords in them, as they appear in a URL.
    passwords: Vec<String>,
}

impl EndpointSecrets {
    fn of<'a>(endpoints: impl IntoIterator<Item = &'a str>) -> EndpointSecrets {
        let mut secrets = EndpointSecrets::default();
        for endpoint in endpoints {
            match url::Url::parse(endpoint) {
                Ok(url) => secrets.passwords.extend(url.password().map(str::to_owned)),
                // A URL that does not parse is quoted whole: shown as SecretUrl shows it.
                Err(_) => secrets
                    .endpoints
                    .push((endpoint.to_owned(), SecretUrl::new(endpoint).to_string())),
            }
        }
        secrets
    }

    /// `text` with every endpoint shown without its password, and every password as `***`.
    fn hide(&self, text: &str) -> String {
        let shown = self
            .endpoints
            .iter()
            .fold(text.to_owned(), |text, (endpoint, shown)| {
                text.replace(endpoint, shown)
            });
        self.passwords
            .iter()
            .fold(shown, |text, password| text.replace(password, "***"))
    }
}

/// `OTEL_TRACES_SAMPLER` and its argument.
#[derive(Debug, Clone, Copy, PartialEq)]
enum SamplerChoice {
    AlwaysOn,
    AlwaysOff,
    Ratio(f64),
    ParentBased(Root),
}

/// The root sampler of a parent-based sampler.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Root {
    AlwaysOn,
    AlwaysOff,
    Ratio(f64),
}

/// Builds what the process exports with, or `None` when no endpoint is configured (then no
/// exporter is built at all).
pub(crate) fn from_env(names: ServiceNames) -> anyhow::Result<Option<Exporting>> {
    let Some(config) = config(|name| std::env::var(name).ok())? else {
        return Ok(None);
    };
    let warned = Arc::new(AtomicBool::new(false));
    let provider = |name: &str| -> anyhow::Result<SdkTracerProvider> {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .build()
            .map_err(|error| anyhow::anyhow!(config.secrets.hide(&error.to_string())))
            .context("failed to set up the OTLP trace exporter (OTEL_EXPORTER_OTLP_*)")?;
        Ok(SdkTracerProvider::builder()
            .with_batch_exporter(Quiet {
                inner: exporter,
                warned: Arc::clone(&warned),
                secrets: config.secrets.clone(),
            })
            .with_sampler(config.sampler.sampler())
            .with_resource(resource(name))
            .build())
    };
    let own_name = service_name().unwrap_or_else(|| match names {
        ServiceNames::One(name) | ServiceNames::Several { process: name, .. } => name.to_owned(),
    });
    let default = provider(&own_name)?;
    let mut providers = vec![default.clone()];
    let mut services = HashMap::new();
    if let ServiceNames::Several {
        services: several, ..
    } = names
    {
        for &service in several {
            let provider = provider(&format!("{service}-service"))?;
            services.insert(service, provider.tracer(SCOPE));
            providers.push(provider);
        }
    }
    Ok(Some(Exporting {
        tracer: RoutingTracer {
            default: default.tracer(SCOPE),
            services: Arc::new(services),
        },
        providers,
    }))
}

/// Flushes and stops every provider side by side, waiting at most [`FLUSH_TIMEOUT`] in all;
/// whether every one stopped in time.
pub(crate) fn shutdown(providers: Vec<SdkTracerProvider>) -> bool {
    let (done, finished) = mpsc::channel();
    let count = providers.len();
    for provider in providers {
        let done = done.clone();
        // A provider that does not stop in time is left behind: the process is ending.
        let _ = std::thread::Builder::new()
            .name("trace-flush".to_owned())
            .spawn(move || {
                let _ = provider.shutdown_with_timeout(FLUSH_TIMEOUT);
                let _ = done.send(());
            });
    }
    let deadline = std::time::Instant::now() + FLUSH_TIMEOUT;
    (0..count).all(|_| {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        finished.recv_timeout(left).is_ok()
    })
}

/// The configuration, reading variables through `var`; `None` when nothing is to be exported.
fn config(var: impl Fn(&str) -> Option<String>) -> anyhow::Result<Option<OtlpConfig>> {
    let var = |name: &str| var(name).map(|value| value.trim().to_owned());
    let set = |name: &str| var(name).filter(|value| !value.is_empty());
    if set("OTEL_SDK_DISABLED").is_some_and(|value| value.eq_ignore_ascii_case("true")) {
        return Ok(None);
    }
    match set("OTEL_TRACES_EXPORTER").as_deref() {
        None | Some("otlp") => {}
        Some("none") => return Ok(None),
        Some(other) => bail!(
            "OTEL_TRACES_EXPORTER `{other}` is not supported: `otlp` exports traces, `none` \
             turns them off"
        ),
    }
    let endpoints: Vec<String> = [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ]
    .into_iter()
    .filter_map(set)
    .collect();
    if endpoints.is_empty() {
        return Ok(None);
    }
    let secrets = EndpointSecrets::of(endpoints.iter().map(String::as_str));
    let (protocol_variable, protocol) = match set("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") {
        Some(protocol) => ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", protocol),
        None => (
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            set("OTEL_EXPORTER_OTLP_PROTOCOL").unwrap_or_else(|| "http/protobuf".to_owned()),
        ),
    };
    if protocol != "http/protobuf" {
        bail!(
            "{protocol_variable} `{protocol}` is not supported: traces are exported over OTLP/HTTP \
             with protobuf (`http/protobuf`)"
        );
    }
    let sampler = sampler(
        set("OTEL_TRACES_SAMPLER").as_deref(),
        set("OTEL_TRACES_SAMPLER_ARG").as_deref(),
    )?;
    Ok(Some(OtlpConfig { sampler, secrets }))
}

/// `OTEL_TRACES_SAMPLER` with `OTEL_TRACES_SAMPLER_ARG`; parent-based, always on, by default.
fn sampler(name: Option<&str>, argument: Option<&str>) -> anyhow::Result<SamplerChoice> {
    let ratio = || -> anyhow::Result<f64> {
        let Some(argument) = argument else {
            return Ok(1.0);
        };
        match argument.parse::<f64>() {
            Ok(ratio) if (0.0..=1.0).contains(&ratio) => Ok(ratio),
            _ => bail!("OTEL_TRACES_SAMPLER_ARG `{argument}` is not a ratio from 0 to 1"),
        }
    };
    Ok(match name.unwrap_or("parentbased_always_on") {
        "always_on" => SamplerChoice::AlwaysOn,
        "always_off" => SamplerChoice::AlwaysOff,
        "traceidratio" => SamplerChoice::Ratio(ratio()?),
        "parentbased_always_on" => SamplerChoice::ParentBased(Root::AlwaysOn),
        "parentbased_always_off" => SamplerChoice::ParentBased(Root::AlwaysOff),
        "parentbased_traceidratio" => SamplerChoice::ParentBased(Root::Ratio(ratio()?)),
        other => bail!(
            "OTEL_TRACES_SAMPLER `{other}` is not supported: use always_on, always_off, \
             traceidratio, parentbased_always_on, parentbased_always_off or \
             parentbased_traceidratio"
        ),
    })
}

impl SamplerChoice {
    fn sampler(self) -> Sampler {
        let root = |root: Root| match root {
            Root::AlwaysOn => Sampler::AlwaysOn,
            Root::AlwaysOff => Sampler::AlwaysOff,
            Root::Ratio(ratio) => Sampler::TraceIdRatioBased(ratio),
        };
        match self {
            SamplerChoice::AlwaysOn => Sampler::AlwaysOn,
            SamplerChoice::AlwaysOff => Sampler::AlwaysOff,
            SamplerChoice::Ratio(ratio) => Sampler::TraceIdRatioBased(ratio),
            SamplerChoice::ParentBased(first) => Sampler::ParentBased(Box::new(root(first))),
        }
    }
}

/// The name the user gave the process: `OTEL_SERVICE_NAME`, else `service.name` in
/// `OTEL_RESOURCE_ATTRIBUTES`.
fn service_name() -> Option<String> {
    std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|name| !name.trim().is_empty())
        .or_else(|| {
            EnvResourceDetector::new()
                .detect()
                .get(&Key::new("service.name"))
                .map(|name| name.to_string())
        })
}

/// The resource of the spans reported as `name`: `OTEL_RESOURCE_ATTRIBUTES`, the SDK's own
/// attributes, and `service.name`.
fn resource(name: &str) -> Resource {
    Resource::builder()
        .with_service_name(name.to_owned())
        .build()
}

/// Starts each span with the tracer of the service its parent context names, or the process's.
#[derive(Clone)]
pub(crate) struct RoutingTracer {
    default: SdkTracer,
    services: Arc<HashMap<&'static str, SdkTracer>>,
}

impl fmt::Debug for RoutingTracer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoutingTracer")
            .field("services", &self.services.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Tracer for RoutingTracer {
    type Span = opentelemetry_sdk::trace::Span;

    fn build_with_context(&self, builder: SpanBuilder, parent_cx: &Context) -> Self::Span {
        let tracer = parent_cx
            .get::<ServiceTag>()
            .and_then(|ServiceTag(service)| self.services.get(service))
            .unwrap_or(&self.default);
        tracer.build_with_context(builder, parent_cx)
    }
}

/// An exporter that logs a collector's failure once, at WARN, rather than once per batch (the
/// batch is dropped either way), and logs once again when exporting works again.
#[derive(Debug)]
struct Quiet<E> {
    inner: E,
    /// Shared by every exporter of the process: one warning per outage, not one per service.
    warned: Arc<AtomicBool>,
    secrets: EndpointSecrets,
}

impl<E: SdkSpanExporter> SdkSpanExporter for Quiet<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = batch.len();
        let result = self.inner.export(batch).await;
        match &result {
            Err(error) if !self.warned.swap(true, Ordering::Relaxed) => tracing::warn!(
                error = self.secrets.hide(&error.to_string()),
                spans,
                "cannot export traces to the OTLP collector; dropping spans until it answers"
            ),
            Ok(()) if self.warned.swap(false, Ordering::Relaxed) => {
                tracing::info!("exporting traces to the OTLP collector again")
            }
            _ => {}
        }
        result
    }

    fn shutdown_with_timeout(&mut self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&mut self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_of(pairs: &[(&str, &str)]) -> anyhow::Result<Option<OtlpConfig>> {
        let vars: HashMap<String, String> = pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        config(|name| vars.get(name).cloned())
    }

    #[test]
    fn an_endpoints_password_is_hidden_from_what_the_exporter_says() {
        let secrets =
            EndpointSecrets::of(["http://user:s%40cret@collector:4318", "http//u:pw0rd@x:1"]);
        let said = secrets.hide(
            "reqwest::Error { url: \"http://user:s%40cret@collector:4318/v1/traces\" } \
             password=s%40cret; invalid URI http//u:pw0rd@x:1",
        );
        assert!(!said.contains("s%40cret"), "{said}");
        assert!(!said.contains("pw0rd"), "{said}");
        assert!(
            said.contains("http://user:***@collector:4318/v1/traces"),
            "{said}"
        );
    }

    const ENDPOINT: (&str, &str) = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318");

    #[test]
    fn nothing_is_exported_without_an_endpoint_or_when_turned_off() {
        for (pairs, case) in [
            (&[][..], "no variable"),
            (
                &[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")][..],
                "an empty endpoint",
            ),
            (
                &[("OTEL_SERVICE_NAME", "shop")][..],
                "a name but no endpoint",
            ),
            (&[ENDPOINT, ("OTEL_SDK_DISABLED", "true")][..], "disabled"),
            (
                &[ENDPOINT, ("OTEL_TRACES_EXPORTER", "none")][..],
                "exporter none",
            ),
        ] {
            assert_eq!(config_of(pairs).expect(case), None, "{case}");
        }
    }

    #[test]
    fn an_endpoint_exports_with_a_parent_based_sampler_by_default() {
        for endpoint in [
            ENDPOINT,
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://127.0.0.1:4318/v1/traces",
            ),
        ] {
            let config = config_of(&[endpoint]).expect("valid").expect("exporting");
            assert_eq!(config.sampler, SamplerChoice::ParentBased(Root::AlwaysOn));
        }
        let explicit = config_of(&[ENDPOINT, ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")]);
        assert!(explicit.expect("valid").is_some());
    }

    #[test]
    fn an_unsupported_protocol_is_refused_by_name() {
        for (variable, protocol) in [
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "udp"),
        ] {
            let error = config_of(&[ENDPOINT, (variable, protocol)]).expect_err(protocol);
            let message = error.to_string();
            assert!(
                message.contains(variable) && message.contains(protocol),
                "{message}"
            );
        }
    }

    #[test]
    fn samplers_are_read_with_their_argument() {
        let cases = [
            ("always_on", None, SamplerChoice::AlwaysOn),
            ("always_off", None, SamplerChoice::AlwaysOff),
            ("traceidratio", Some("0.25"), SamplerChoice::Ratio(0.25)),
            ("traceidratio", None, SamplerChoice::Ratio(1.0)),
            (
                "parentbased_always_off",
                None,
                SamplerChoice::ParentBased(Root::AlwaysOff),
            ),
            (
                "parentbased_traceidratio",
                Some("0.5"),
                SamplerChoice::ParentBased(Root::Ratio(0.5)),
            ),
        ];
        for (name, argument, expected) in cases {
            assert_eq!(
                sampler(Some(name), argument).expect(name),
                expected,
                "{name} {argument:?}"
            );
        }
        for (name, argument) in [
            ("jaeger_remote", None),
            ("sometimes", None),
            ("traceidratio", Some("2")),
            ("traceidratio", Some("half")),
        ] {
            let error = sampler(Some(name), argument).expect_err(name);
            assert!(error.to_string().contains("OTEL_TRACES_SAMPLER"), "{error}");
        }
    }
}
