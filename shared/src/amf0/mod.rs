//! amf0: work in progress.
