mod util;
mod parse;
