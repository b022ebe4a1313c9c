"""The wire contract between a search and a trainer: which trial to run (`spec`), on which data (`dataset`),
with which protocol (`protocol`), and the records a trainer sends back (`records`, `sinks`, `metrics_stream`).
Pydantic and the standard library only; never imports torch."""
