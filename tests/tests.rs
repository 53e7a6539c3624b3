mod parse;
mod util;
