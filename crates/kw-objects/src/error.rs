//! One error type for the crate: what went wrong, said so a user can act on it (which file, which shape).

/// Why a model could not be loaded or a picture not be examined. `Clone`, so the shipped model's one load
/// can hand its outcome to every camera.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A file (model or labels) could not be read, or is larger than allowed.
    #[error("{path}: {why}")]
    File { path: String, why: String },
    /// The labels file is malformed.
    #[error("labels: {0}")]
    Labels(String),
    /// tract refused the model, or the model's inputs or outputs fit no layout this crate decodes.
    #[error("model: {0}")]
    Model(String),
    /// The picture handed in is malformed (size and buffer disagree, too large, empty).
    #[error("picture: {0}")]
    Picture(String),
    /// The network failed while running (should not happen with a model that loaded).
    #[error("inference: {0}")]
    Inference(String),
}
