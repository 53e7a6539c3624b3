//! Tiny HTTP servers on 127.0.0.1 for `links check`: each serves the corpus's WikiLeaks pages
//! by path (`/cable/YYYY/MM/ID.html`), one thread per connection, `Connection: close`, like
//! the servers of tests/links.rs. They live as long as the benchmark process.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// Starts `n` servers of `root`; returns their base URLs (`http://127.0.0.1:PORT`).
pub fn start(n: usize, root: &Path) -> std::io::Result<Vec<String>> {
    let root: Arc<Path> = Arc::from(root);
    let mut bases = Vec::with_capacity(n);
    for _ in 0..n {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        bases.push(format!("http://{}", listener.local_addr()?));
        let root = Arc::clone(&root);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let root = Arc::clone(&root);
                thread::spawn(move || serve(stream, &root));
            }
        });
    }
    Ok(bases)
}

fn serve(mut stream: TcpStream, root: &Path) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(k) => head.extend_from_slice(&buf[..k]),
        }
        if head.len() > 65_536 {
            return;
        }
    }
    let text = String::from_utf8_lossy(&head);
    let path = text.split_whitespace().nth(1).unwrap_or("/");
    // Only plain page paths are served: no "..", nothing outside the pages folder.
    let body = if path.starts_with("/cable/") && !path.contains("..") {
        std::fs::read(root.join(&path[1..])).ok()
    } else {
        None
    };
    let (status, body) = match body {
        Some(b) => ("200 OK", b),
        None => ("404 Not Found", b"not found".to_vec()),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
}
