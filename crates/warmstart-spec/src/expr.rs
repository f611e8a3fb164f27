//! The expression language used inside `${...}` in experiment files.
//!
//! Numbers (`3`, `0.5`, `1e-3`), names (a `[params]` entry or a sweep axis), `+ - * /`
//! (`/` always gives a float), `//` (floor division), `%` (modulo, sign of the divisor),
//! `**` (power, right-associative, binds tighter than unary minus: `-2**2 == -4`), unary
//! minus, parentheses, and the functions `min(a, b, ...)`, `max(a, b, ...)`, `int(x)`
//! (truncates toward zero), `float(x)`, `round(x)` (half to even, gives an integer),
//! `sqrt(x)`, `log10(x)`, `exp(x)`.
//!
//! Integer op integer stays an integer (overflow is an error); as soon as a float is
//! involved the result is a float. A string or boolean in arithmetic is a type error.
//!
//! A [`Template`] is a TOML string that contains `${...}`: if the whole string is one
//! `${expr}`, its value is the typed result; otherwise each `${expr}` is interpolated into
//! the text. `$${` is an escape for a literal `${`.

use std::ops::Range;

use warmstart_engine::Value;

/// An error in an expression: where (byte range relative to the expression or template
/// text), what, and how to fix it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExprError {
    pub span: Range<usize>,
    pub code: &'static str,
    pub message: String,
    pub label: String,
    pub help: Option<String>,
}

impl ExprError {
    fn syntax(span: Range<usize>, message: impl Into<String>, label: impl Into<String>) -> Self {
        ExprError {
            span,
            code: "spec::expr-syntax",
            message: message.into(),
            label: label.into(),
            help: Some(
                "expressions use numbers, names, + - * / // % **, parentheses and \
                 min/max/int/float/round/sqrt/log10/exp; write `$${` for a literal `${`"
                    .into(),
            ),
        }
    }
    fn eval(span: Range<usize>, code: &'static str, message: String, help: &str) -> Self {
        ExprError {
            span,
            code,
            label: message.clone(),
            message,
            help: Some(help.into()),
        }
    }
    fn shifted(mut self, by: usize) -> Self {
        self.span = self.span.start + by..self.span.end + by;
        self
    }
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    Pow,
}

impl BinOp {
    fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::FloorDiv => "//",
            BinOp::Mod => "%",
            BinOp::Pow => "**",
        }
    }
}

/// A parsed expression. Spans are byte ranges relative to the expression text.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Num(Value, Range<usize>),
    Name(String, Range<usize>),
    Neg(Box<Expr>, Range<usize>),
    Bin(BinOp, Box<Expr>, Box<Expr>, Range<usize>),
    Call(String, Vec<Expr>, Range<usize>),
}

impl Expr {
    pub fn span(&self) -> Range<usize> {
        match self {
            Expr::Num(_, s)
            | Expr::Name(_, s)
            | Expr::Neg(_, s)
            | Expr::Bin(_, _, _, s)
            | Expr::Call(_, _, s) => s.clone(),
        }
    }

    /// Every name referenced, with its span, in order of appearance.
    pub fn names(&self, out: &mut Vec<(String, Range<usize>)>) {
        match self {
            Expr::Num(..) => {}
            Expr::Name(n, s) => out.push((n.clone(), s.clone())),
            Expr::Neg(e, _) => e.names(out),
            Expr::Bin(_, a, b, _) => {
                a.names(out);
                b.names(out);
            }
            Expr::Call(_, args, _) => args.iter().for_each(|a| a.names(out)),
        }
    }

    /// Parse an expression.
    pub fn parse(text: &str) -> Result<Expr, ExprError> {
        let toks = lex(text)?;
        if toks.len() > MAX_TOKENS {
            let start = toks.get(MAX_TOKENS).map_or(0, |t| t.span.start);
            return Err(ExprError::syntax(
                start..text.len(),
                format!("expression is too long (more than {MAX_TOKENS} tokens)"),
                "too long",
            ));
        }
        let mut p = Parser {
            toks,
            pos: 0,
            end: text.len(),
            depth: 0,
        };
        let e = p.expr()?;
        if let Some(t) = p.toks.get(p.pos) {
            return Err(ExprError::syntax(
                t.span.clone(),
                format!("unexpected {} in expression", t.tok.describe()),
                "expected an operator or the end of the expression here",
            ));
        }
        Ok(e)
    }

    /// Evaluate, looking names up with `lookup`.
    pub fn eval(&self, lookup: &dyn Fn(&str) -> Option<Value>) -> Result<Value, ExprError> {
        match self {
            Expr::Num(v, _) => Ok(v.clone()),
            Expr::Name(n, s) => lookup(n).ok_or_else(|| {
                ExprError::eval(
                    s.clone(),
                    "spec::unknown-name",
                    format!("unknown name `{n}`"),
                    "names must be a [params] entry or a [sweep] axis",
                )
            }),
            Expr::Neg(e, s) => match e.eval(lookup)? {
                Value::Int(i) => i.checked_neg().map(Value::Int).ok_or_else(|| overflow(s)),
                Value::Float(f) => Ok(Value::Float(-f)),
                other => Err(type_error(e.span(), "-", &other)),
            },
            Expr::Bin(op, a, b, s) => {
                let x = a.eval(lookup)?;
                let y = b.eval(lookup)?;
                let x = number(&x, a.span(), op.symbol())?;
                let y = number(&y, b.span(), op.symbol())?;
                binop(*op, x, y, s, b.span())
            }
            Expr::Call(f, args, s) => {
                let vals = args
                    .iter()
                    .map(|a| {
                        let v = a.eval(lookup)?;
                        number(&v, a.span(), f)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                call(f, &vals, s)
            }
        }
    }
}

/// A numeric operand.
#[derive(Debug, Clone, Copy)]
enum Num {
    I(i64),
    F(f64),
}

impl Num {
    fn f(self) -> f64 {
        match self {
            Num::I(i) => i as f64,
            Num::F(f) => f,
        }
    }
}

fn number(v: &Value, span: Range<usize>, op: &str) -> Result<Num, ExprError> {
    match v {
        Value::Int(i) => Ok(Num::I(*i)),
        Value::Float(f) => Ok(Num::F(*f)),
        other => Err(type_error(span, op, other)),
    }
}

fn type_error(span: Range<usize>, op: &str, v: &Value) -> ExprError {
    let mut e = ExprError::eval(
        span,
        "spec::expr-type",
        format!(
            "`{op}` needs numbers, but this is a {} ({v})",
            v.type_name()
        ),
        "only integers and floats can be used in arithmetic; to build text, put the \
         `${...}` inside a longer string instead",
    );
    e.label = format!("this is a {}, not a number", v.type_name());
    e
}

fn overflow(span: &Range<usize>) -> ExprError {
    ExprError::eval(
        span.clone(),
        "spec::expr-overflow",
        "integer overflow".into(),
        "the result does not fit in a 64-bit integer; use a float (e.g. `float(x)`)",
    )
}

fn div_zero(span: Range<usize>) -> ExprError {
    ExprError::eval(
        span,
        "spec::expr-div-zero",
        "division by zero".into(),
        "the right-hand side evaluates to zero; check the values it uses",
    )
}

fn finite(x: f64, span: &Range<usize>) -> Result<Value, ExprError> {
    if x.is_finite() {
        Ok(Value::Float(x))
    } else {
        Err(ExprError::eval(
            span.clone(),
            "spec::expr-domain",
            format!("result is not a finite number ({x})"),
            "check the operands: the value is out of range for this operation",
        ))
    }
}

fn binop(
    op: BinOp,
    x: Num,
    y: Num,
    s: &Range<usize>,
    rhs: Range<usize>,
) -> Result<Value, ExprError> {
    use BinOp::*;
    use Num::*;
    match (op, x, y) {
        (Add, I(a), I(b)) => a.checked_add(b).map(Value::Int).ok_or_else(|| overflow(s)),
        (Sub, I(a), I(b)) => a.checked_sub(b).map(Value::Int).ok_or_else(|| overflow(s)),
        (Mul, I(a), I(b)) => a.checked_mul(b).map(Value::Int).ok_or_else(|| overflow(s)),
        (Add, a, b) => finite(a.f() + b.f(), s),
        (Sub, a, b) => finite(a.f() - b.f(), s),
        (Mul, a, b) => finite(a.f() * b.f(), s),
        (Div | FloorDiv | Mod, _, b) if b.f() == 0.0 => Err(div_zero(rhs)),
        (Div, a, b) => finite(a.f() / b.f(), s),
        (FloorDiv, I(a), I(b)) => {
            let q = a.checked_div(b).ok_or_else(|| overflow(s))?;
            let r = a.checked_rem(b).ok_or_else(|| overflow(s))?;
            Ok(Value::Int(if r != 0 && ((r < 0) != (b < 0)) {
                q - 1
            } else {
                q
            }))
        }
        (FloorDiv, a, b) => finite((a.f() / b.f()).floor(), s),
        (Mod, I(a), I(b)) => {
            let r = a.checked_rem(b).ok_or_else(|| overflow(s))?;
            Ok(Value::Int(if r != 0 && ((r < 0) != (b < 0)) {
                r + b
            } else {
                r
            }))
        }
        (Mod, a, b) => {
            let (a, b) = (a.f(), b.f());
            finite(a - b * (a / b).floor(), s)
        }
        (Pow, I(a), I(b)) if b >= 0 => u32::try_from(b)
            .ok()
            .and_then(|e| a.checked_pow(e))
            .map(Value::Int)
            .ok_or_else(|| overflow(s)),
        (Pow, a, b) => {
            if a.f() == 0.0 && b.f() < 0.0 {
                return Err(div_zero(s.clone()));
            }
            finite(a.f().powf(b.f()), s)
        }
    }
}

const FUNCTIONS: [&str; 9] = [
    "min", "max", "int", "float", "round", "sqrt", "log10", "exp", "zfill",
];

fn call(f: &str, args: &[Num], s: &Range<usize>) -> Result<Value, ExprError> {
    let arity = |n: usize| -> Result<(), ExprError> {
        if args.len() == n {
            Ok(())
        } else {
            Err(ExprError::eval(
                s.clone(),
                "spec::expr-arity",
                format!(
                    "`{f}` takes {n} argument{}, got {}",
                    if n == 1 { "" } else { "s" },
                    args.len()
                ),
                "check the number of arguments",
            ))
        }
    };
    let domain = |what: &str| {
        ExprError::eval(
            s.clone(),
            "spec::expr-domain",
            format!("`{f}` {what}"),
            "check the value passed to the function",
        )
    };
    match f {
        "min" | "max" => {
            if args.len() < 2 {
                return Err(ExprError::eval(
                    s.clone(),
                    "spec::expr-arity",
                    format!("`{f}` takes at least 2 arguments, got {}", args.len()),
                    "write e.g. `min(a, b)`",
                ));
            }
            let all_int = args.iter().all(|a| matches!(a, Num::I(_)));
            let mut best = args[0];
            for a in &args[1..] {
                let better = if f == "min" {
                    a.f() < best.f()
                } else {
                    a.f() > best.f()
                };
                if better {
                    best = *a;
                }
            }
            Ok(match best {
                Num::I(i) if all_int => Value::Int(i),
                b => Value::Float(b.f()),
            })
        }
        "int" | "round" => {
            arity(1)?;
            match args[0] {
                Num::I(i) => Ok(Value::Int(i)),
                Num::F(x) => {
                    let r = if f == "int" {
                        x.trunc()
                    } else {
                        x.round_ties_even()
                    };
                    if r.is_finite() && r.abs() < 9.2e18 {
                        Ok(Value::Int(r as i64))
                    } else {
                        Err(domain("result does not fit in a 64-bit integer"))
                    }
                }
            }
        }
        "float" => {
            arity(1)?;
            Ok(Value::Float(args[0].f()))
        }
        "sqrt" => {
            arity(1)?;
            if args[0].f() < 0.0 {
                return Err(domain("needs a non-negative number"));
            }
            finite(args[0].f().sqrt(), s)
        }
        "log10" => {
            arity(1)?;
            if args[0].f() <= 0.0 {
                return Err(domain("needs a positive number"));
            }
            finite(args[0].f().log10(), s)
        }
        "exp" => {
            arity(1)?;
            finite(args[0].f().exp(), s)
        }
        // `zfill(16, 5)` = "00016": checkpoint directories are usually zero-padded.
        "zfill" => {
            arity(2)?;
            match (args[0], args[1]) {
                (Num::I(x), Num::I(w)) if (0..=64).contains(&w) => {
                    let w = w as usize;
                    Ok(Value::Str(if x < 0 {
                        format!("-{:0w$}", x.unsigned_abs(), w = w.saturating_sub(1))
                    } else {
                        format!("{x:0w$}")
                    }))
                }
                _ => Err(domain("needs an integer and a width between 0 and 64")),
            }
        }
        _ => Err(ExprError::eval(
            s.clone(),
            "spec::expr-unknown-function",
            format!("unknown function `{f}`"),
            "available functions: min, max, int, float, round, sqrt, log10, exp, zfill",
        )),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(Value),
    Ident(String),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Num(v) => format!("number `{v}`"),
            Tok::Ident(n) => format!("name `{n}`"),
            Tok::Op(o) => format!("`{o}`"),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::Comma => "`,`".into(),
        }
    }
}

struct Token {
    tok: Tok,
    span: Range<usize>,
}

fn lex(text: &str) -> Result<Vec<Token>, ExprError> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            let mut is_float = false;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
                i += 1;
            }
            if i < b.len() && b[i] == b'.' {
                is_float = true;
                i += 1;
                while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
                    i += 1;
                }
            }
            if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
                let mut j = i + 1;
                if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_digit() {
                    is_float = true;
                    i = j;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            let lit: String = text[start..i].chars().filter(|c| *c != '_').collect();
            let v = if is_float {
                lit.parse::<f64>().ok().map(Value::Float)
            } else {
                lit.parse::<i64>().ok().map(Value::Int)
            };
            let v = v.ok_or_else(|| {
                ExprError::syntax(
                    start..i,
                    format!("invalid number `{}`", &text[start..i]),
                    "not a valid number (integers must fit in 64 bits)",
                )
            })?;
            out.push(Token {
                tok: Tok::Num(v),
                span: start..i,
            });
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Token {
                tok: Tok::Ident(text[start..i].to_string()),
                span: start..i,
            });
            continue;
        }
        let two = text.get(i..i + 2);
        let (tok, len) = match (c, two) {
            (_, Some("**")) => (Tok::Op("**"), 2),
            (_, Some("//")) => (Tok::Op("//"), 2),
            (b'+', _) => (Tok::Op("+"), 1),
            (b'-', _) => (Tok::Op("-"), 1),
            (b'*', _) => (Tok::Op("*"), 1),
            (b'/', _) => (Tok::Op("/"), 1),
            (b'%', _) => (Tok::Op("%"), 1),
            (b'(', _) => (Tok::LParen, 1),
            (b')', _) => (Tok::RParen, 1),
            (b',', _) => (Tok::Comma, 1),
            _ => {
                let ch = text[i..].chars().next().unwrap_or('?');
                return Err(ExprError::syntax(
                    i..i + ch.len_utf8(),
                    format!("unexpected character `{ch}` in expression"),
                    "not allowed in an expression",
                ));
            }
        };
        i += len;
        out.push(Token {
            tok,
            span: start..i,
        });
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    end: usize,
    depth: usize,
}

/// Longest expression accepted, in tokens (bounds the depth of the syntax tree).
const MAX_TOKENS: usize = 512;

/// Deepest nesting of parentheses / unary operators accepted (guards the stack).
const MAX_DEPTH: usize = 64;

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }
    fn peek_op(&self, ops: &[&'static str]) -> Option<&'static str> {
        match self.peek() {
            Some(Tok::Op(o)) if ops.contains(o) => Some(o),
            _ => None,
        }
    }
    fn here(&self) -> Range<usize> {
        self.toks
            .get(self.pos)
            .map(|t| t.span.clone())
            .unwrap_or(self.end..self.end)
    }
    fn nested<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, ExprError>,
    ) -> Result<T, ExprError> {
        if self.depth >= MAX_DEPTH {
            return Err(ExprError::syntax(
                self.here(),
                "expression is nested too deeply",
                format!("more than {MAX_DEPTH} levels of nesting"),
            ));
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }
    fn expr(&mut self) -> Result<Expr, ExprError> {
        self.nested(Self::expr_inner)
    }
    fn expr_inner(&mut self) -> Result<Expr, ExprError> {
        let mut lhs = self.term()?;
        while let Some(op) = self.peek_op(&["+", "-"]) {
            self.pos += 1;
            let rhs = self.term()?;
            let span = lhs.span().start..rhs.span().end;
            let op = if op == "+" { BinOp::Add } else { BinOp::Sub };
            lhs = Expr::Bin(op, Box::new(lhs), Box::new(rhs), span);
        }
        Ok(lhs)
    }
    fn term(&mut self) -> Result<Expr, ExprError> {
        let mut lhs = self.unary()?;
        while let Some(op) = self.peek_op(&["*", "/", "//", "%"]) {
            self.pos += 1;
            let rhs = self.unary()?;
            let span = lhs.span().start..rhs.span().end;
            let op = match op {
                "*" => BinOp::Mul,
                "/" => BinOp::Div,
                "//" => BinOp::FloorDiv,
                _ => BinOp::Mod,
            };
            lhs = Expr::Bin(op, Box::new(lhs), Box::new(rhs), span);
        }
        Ok(lhs)
    }
    fn unary(&mut self) -> Result<Expr, ExprError> {
        self.nested(Self::unary_inner)
    }
    fn unary_inner(&mut self) -> Result<Expr, ExprError> {
        if let Some(op) = self.peek_op(&["-", "+"]) {
            let start = self.here().start;
            self.pos += 1;
            let e = self.unary()?;
            let span = start..e.span().end;
            return Ok(if op == "-" {
                Expr::Neg(Box::new(e), span)
            } else {
                e
            });
        }
        self.power()
    }
    fn power(&mut self) -> Result<Expr, ExprError> {
        let base = self.atom()?;
        if self.peek_op(&["**"]).is_some() {
            self.pos += 1;
            let exp = self.unary()?;
            let span = base.span().start..exp.span().end;
            return Ok(Expr::Bin(BinOp::Pow, Box::new(base), Box::new(exp), span));
        }
        Ok(base)
    }
    fn atom(&mut self) -> Result<Expr, ExprError> {
        let here = self.here();
        let Some(tok) = self.peek().cloned() else {
            return Err(ExprError::syntax(
                here,
                "expression ends too early",
                "expected a number, a name or `(` here",
            ));
        };
        self.pos += 1;
        match tok {
            Tok::Num(v) => Ok(Expr::Num(v, here)),
            Tok::Ident(name) => {
                if self.peek() != Some(&Tok::LParen) {
                    return Ok(Expr::Name(name, here));
                }
                self.pos += 1;
                let mut args = Vec::new();
                if self.peek() != Some(&Tok::RParen) {
                    loop {
                        args.push(self.expr()?);
                        if self.peek() == Some(&Tok::Comma) {
                            self.pos += 1;
                        } else {
                            break;
                        }
                    }
                }
                let close = self.here();
                if self.peek() != Some(&Tok::RParen) {
                    return Err(ExprError::syntax(
                        close,
                        format!("missing `)` after the arguments of `{name}`"),
                        "expected `,` or `)` here",
                    ));
                }
                self.pos += 1;
                if !FUNCTIONS.contains(&name.as_str()) {
                    let mut e = ExprError::syntax(
                        here.clone(),
                        format!("unknown function `{name}`"),
                        "not a function",
                    );
                    e.code = "spec::expr-unknown-function";
                    e.help = Some(match crate::did_you_mean(&name, FUNCTIONS) {
                        Some(d) => format!("{d} (functions: {})", FUNCTIONS.join(", ")),
                        None => format!("available functions: {}", FUNCTIONS.join(", ")),
                    });
                    return Err(e);
                }
                Ok(Expr::Call(name, args, here.start..close.end))
            }
            Tok::LParen => {
                let e = self.expr()?;
                if self.peek() != Some(&Tok::RParen) {
                    return Err(ExprError::syntax(
                        self.here(),
                        "missing `)`",
                        format!("expected `)` to close the `(` at column {}", here.start + 1),
                    ));
                }
                self.pos += 1;
                Ok(e)
            }
            other => Err(ExprError::syntax(
                here,
                format!("unexpected {} in expression", other.describe()),
                "expected a number, a name or `(` here",
            )),
        }
    }
}

/// A piece of a [`Template`].
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Lit(String),
    /// An expression; `offset` is the byte offset of the expression text in the string.
    Expr {
        expr: Expr,
        offset: usize,
    },
}

/// A string containing `${...}` expressions.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub pieces: Vec<Piece>,
}

impl Template {
    /// Parse `s`. Returns `Ok(None)` when the string contains no expression (after
    /// un-escaping `$${`, which the caller should then use via [`unescape`]).
    pub fn parse(s: &str) -> Result<Option<Template>, ExprError> {
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let mut rest = 0;
        let mut has_expr = false;
        while let Some(found) = s[rest..].find('$') {
            let at = rest + found;
            let tail = &s[at..];
            if tail.starts_with("$${") {
                lit.push_str(&s[rest..at]);
                lit.push_str("${");
                rest = at + 3;
            } else if tail.starts_with("${") {
                lit.push_str(&s[rest..at]);
                let body_start = at + 2;
                let Some(close) = s[body_start..].find('}') else {
                    return Err(ExprError::syntax(
                        at..s.len(),
                        "unterminated `${`",
                        "this `${` has no closing `}`",
                    ));
                };
                let body = &s[body_start..body_start + close];
                if body.trim().is_empty() {
                    return Err(ExprError::syntax(
                        at..body_start + close + 1,
                        "empty `${}`",
                        "expected an expression inside",
                    ));
                }
                let expr = Expr::parse(body).map_err(|e| e.shifted(body_start))?;
                if !lit.is_empty() {
                    pieces.push(Piece::Lit(std::mem::take(&mut lit)));
                }
                pieces.push(Piece::Expr {
                    expr,
                    offset: body_start,
                });
                has_expr = true;
                rest = body_start + close + 1;
            } else {
                lit.push_str(&s[rest..at + 1]);
                rest = at + 1;
            }
        }
        lit.push_str(&s[rest..]);
        if !lit.is_empty() {
            pieces.push(Piece::Lit(lit));
        }
        Ok(has_expr.then_some(Template { pieces }))
    }

    /// Names referenced, with spans relative to the string.
    pub fn names(&self) -> Vec<(String, Range<usize>)> {
        let mut out = Vec::new();
        for p in &self.pieces {
            if let Piece::Expr { expr, offset } = p {
                let mut n = Vec::new();
                expr.names(&mut n);
                out.extend(
                    n.into_iter()
                        .map(|(n, s)| (n, s.start + offset..s.end + offset)),
                );
            }
        }
        out
    }

    /// Evaluate. Error spans are relative to the string.
    pub fn eval(&self, lookup: &dyn Fn(&str) -> Option<Value>) -> Result<Value, ExprError> {
        if let [Piece::Expr { expr, offset }] = self.pieces.as_slice() {
            return expr.eval(lookup).map_err(|e| e.shifted(*offset));
        }
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Lit(s) => out.push_str(s),
                Piece::Expr { expr, offset } => {
                    match expr.eval(lookup).map_err(|e| e.shifted(*offset))? {
                        Value::Str(s) => out.push_str(&s),
                        v => out.push_str(&v.to_string()),
                    }
                }
            }
        }
        Ok(Value::Str(out))
    }
}

/// Replace the `$${` escape by `${` in a string that contains no expression.
pub fn unescape(s: &str) -> String {
    s.replace("$${", "${")
}

#[cfg(test)]
mod zfill_tests {
    use super::*;

    fn ev(t: &str) -> Value {
        Template::parse(t)
            .unwrap()
            .unwrap()
            .eval(&|n| (n == "s").then_some(Value::Int(16)))
            .unwrap()
    }

    #[test]
    fn zfill_pads_integers() {
        assert_eq!(ev("${zfill(s, 5)}"), Value::Str("00016".into()));
        assert_eq!(
            ev("step-${zfill(s * 64, 5)}"),
            Value::Str("step-01024".into())
        );
        assert_eq!(ev("${zfill(-3, 3)}"), Value::Str("-03".into()));
        assert!(
            Template::parse("${zfill(1.5, 3)}")
                .unwrap()
                .unwrap()
                .eval(&|_| None)
                .is_err()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(s: &str) -> Result<Value, ExprError> {
        let lookup = |n: &str| match n {
            "d" => Some(Value::Int(200)),
            "alpha" => Some(Value::Float(0.5)),
            "name" => Some(Value::Str("x".into())),
            _ => None,
        };
        Expr::parse(s)?.eval(&lookup)
    }

    #[test]
    fn precedence() {
        assert_eq!(ev("1 + 2 * 3"), Ok(Value::Int(7)));
        assert_eq!(ev("(1 + 2) * 3"), Ok(Value::Int(9)));
        assert_eq!(ev("2 ** 3 ** 2"), Ok(Value::Int(512)));
        assert_eq!(ev("-2 ** 2"), Ok(Value::Int(-4)));
        assert_eq!(ev("2 ** -1"), Ok(Value::Float(0.5)));
        assert_eq!(ev("10 - 4 - 3"), Ok(Value::Int(3)));
        assert_eq!(ev("4 * d"), Ok(Value::Int(800)));
        assert_eq!(ev("-(3 + 4) * 2"), Ok(Value::Int(-14)));
    }

    #[test]
    fn int_float_rules() {
        assert_eq!(ev("7 / 2"), Ok(Value::Float(3.5)));
        assert_eq!(ev("6 / 2"), Ok(Value::Float(3.0)));
        assert_eq!(ev("7 // 2"), Ok(Value::Int(3)));
        assert_eq!(ev("-7 // 2"), Ok(Value::Int(-4)));
        assert_eq!(ev("7.0 // 2"), Ok(Value::Float(3.0)));
        assert_eq!(ev("-7 % 3"), Ok(Value::Int(2)));
        assert_eq!(ev("7 % -3"), Ok(Value::Int(-2)));
        assert_eq!(ev("1 + alpha"), Ok(Value::Float(1.5)));
        assert_eq!(ev("2 * 3"), Ok(Value::Int(6)));
        assert_eq!(ev("1e3"), Ok(Value::Float(1000.0)));
        assert_eq!(ev("int(2.9)"), Ok(Value::Int(2)));
        assert_eq!(ev("int(-2.9)"), Ok(Value::Int(-2)));
        assert_eq!(ev("round(2.5)"), Ok(Value::Int(2)));
        assert_eq!(ev("round(3.5)"), Ok(Value::Int(4)));
        assert_eq!(ev("float(3)"), Ok(Value::Float(3.0)));
        assert_eq!(ev("min(3, 2)"), Ok(Value::Int(2)));
        assert_eq!(ev("max(3, 2.5)"), Ok(Value::Float(3.0)));
        assert_eq!(ev("sqrt(16)"), Ok(Value::Float(4.0)));
        assert_eq!(ev("log10(1000)"), Ok(Value::Float(3.0)));
        assert_eq!(ev("exp(0)"), Ok(Value::Float(1.0)));
    }

    #[test]
    fn errors() {
        assert_eq!(ev("1 / 0").unwrap_err().code, "spec::expr-div-zero");
        assert_eq!(ev("1 // 0").unwrap_err().code, "spec::expr-div-zero");
        assert_eq!(ev("5 % 0.0").unwrap_err().code, "spec::expr-div-zero");
        assert_eq!(
            ev("9223372036854775807 + 1").unwrap_err().code,
            "spec::expr-overflow"
        );
        assert_eq!(ev("2 ** 64").unwrap_err().code, "spec::expr-overflow");
        assert_eq!(ev("name + 1").unwrap_err().code, "spec::expr-type");
        assert_eq!(ev("nope").unwrap_err().code, "spec::unknown-name");
        assert_eq!(ev("sqrt(-1)").unwrap_err().code, "spec::expr-domain");
        assert_eq!(
            ev("foo(1)").unwrap_err().code,
            "spec::expr-unknown-function"
        );
        let e = ev("1 + * 2").unwrap_err();
        assert_eq!(e.code, "spec::expr-syntax");
        assert_eq!(e.span, 4..5);
        assert_eq!(ev("(1 + 2").unwrap_err().span, 6..6);
        assert_eq!(ev("1 2").unwrap_err().span, 2..3);
        assert_eq!(ev("1 $").unwrap_err().span, 2..3);
    }

    #[test]
    fn templates() {
        let lookup = |n: &str| (n == "d").then_some(Value::Int(200));
        let t = Template::parse("${4 * d}").unwrap().unwrap();
        assert_eq!(t.eval(&lookup), Ok(Value::Int(800)));
        let t = Template::parse("run-${d}-${d / 2}").unwrap().unwrap();
        assert_eq!(t.eval(&lookup), Ok(Value::Str("run-200-100.0".into())));
        let t = Template::parse("cost $5 $${d} ${d}").unwrap().unwrap();
        assert_eq!(t.eval(&lookup), Ok(Value::Str("cost $5 ${d} 200".into())));
        assert_eq!(Template::parse("plain $${x}"), Ok(None));
        assert_eq!(unescape("plain $${x}"), "plain ${x}");
        let e = Template::parse("ab${1 +}").unwrap_err();
        assert_eq!(e.span, 7..7);
        let e = Template::parse("ab${d").unwrap_err();
        assert_eq!(e.span, 2..5);
        let t = Template::parse("x${d + nope}").unwrap().unwrap();
        assert_eq!(t.names(), vec![("d".into(), 3..4), ("nope".into(), 7..11)]);
    }
}
