//! Procedural macros of liveview. Use them through the `liveview` crate:
//! `#[liveview::handler("name")]`.

use proc_macro::TokenStream;
use quote::quote;
use syn::{ItemFn, LitStr, parse_macro_input};

/// Registers an async function as the handler of the events named `name`.
///
/// The function stays an ordinary function; the attribute adds a
/// registration that every `LiveView::builder()` picks up, like Django
/// LiveView's `@liveview_handler("name")` decorator. Without a name, the
/// function's own name is used.
///
/// See the `liveview` crate's documentation for the arguments a handler may
/// take and what it may return.
#[proc_macro_attribute]
pub fn handler(attr: TokenStream, item: TokenStream) -> TokenStream {
    let function = parse_macro_input!(item as ItemFn);
    let name = if attr.is_empty() {
        LitStr::new(&function.sig.ident.to_string(), function.sig.ident.span())
    } else {
        parse_macro_input!(attr as LitStr)
    };
    match expand(&function, &name) {
        Ok(tokens) => tokens.into(),
        Err(err) => err.to_compile_error().into(),
    }
}

fn expand(function: &ItemFn, name: &LitStr) -> syn::Result<proc_macro2::TokenStream> {
    let sig = &function.sig;
    if sig.asyncness.is_none() {
        return Err(syn::Error::new_spanned(
            sig.fn_token,
            "a liveview handler must be an `async fn`",
        ));
    }
    if !sig.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &sig.generics,
            "a registered liveview handler cannot be generic; register an instance with `.handler(name, f::<T>)`",
        ));
    }
    if let Some(receiver) = sig.receiver() {
        return Err(syn::Error::new_spanned(
            receiver,
            "a liveview handler is a free function, not a method",
        ));
    }
    let value = name.value();
    if value.is_empty() || value.len() > 128 {
        return Err(syn::Error::new_spanned(
            name,
            "a handler name must be 1 to 128 bytes long",
        ));
    }
    let ident = &sig.ident;
    Ok(quote! {
        #function

        ::liveview::__private::inventory::submit! {
            ::liveview::__private::Registration::new(#name, || ::liveview::__private::erase(#ident))
        }
    })
}
