//! libgvnet.so
