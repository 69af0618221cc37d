use leptos::prelude::*;
use leptos_router::components::A;

use crate::api::auth::logout;
use crate::components::session::{reload_to, use_session};
use crate::types::auth::Role;
use crate::PRODUCT_NAME;

/// One entry of the navigation: where it goes and what it is called.
struct NavItem {
    href: &'static str,
    label: &'static str,
    icon: &'static str,
}

const NAV_ITEMS: [NavItem; 11] = [
    NavItem {
        href: "/",
        label: "Home",
        icon: "⌂",
    },
    NavItem {
        href: "/predict",
        label: "Predict",
        icon: "◎",
    },
    NavItem {
        href: "/series",
        label: "Series",
        icon: "▥",
    },
    NavItem {
        href: "/studies",
        label: "Studies",
        icon: "▧",
    },
    NavItem {
        href: "/insights",
        label: "Insights",
        icon: "▤",
    },
    NavItem {
        href: "/model",
        label: "Model",
        icon: "◈",
    },
    NavItem {
        href: "/upload",
        label: "Upload",
        icon: "⇪",
    },
    NavItem {
        href: "/data",
        label: "Data",
        icon: "▦",
    },
    NavItem {
        href: "/review",
        label: "Review",
        icon: "✓",
    },
    NavItem {
        href: "/retrain",
        label: "Retrain",
        icon: "↻",
    },
    NavItem {
        href: "/monitor",
        label: "Monitor",
        icon: "♥",
    },
];

/// The navigation sidebar; on narrow screens it collapses behind a menu button.
#[component]
pub fn Sidebar() -> impl IntoView {
    let menu_open = RwSignal::new(false);

    view! {
        <header class="sidebar" class:open=move || menu_open.get()>
            <div class="sidebar-top">
                <a class="brand" href="/">
                    <span class="brand-mark" aria-hidden="true">"◉"</span>
                    <span class="brand-name">{PRODUCT_NAME}</span>
                </a>
                <button
                    type="button"
                    class="menu-toggle"
                    aria-controls="main-nav"
                    aria-expanded=move || menu_open.get().to_string()
                    on:click=move |_| menu_open.update(|open| *open = !*open)
                >
                    <span class="visually-hidden">"Toggle navigation"</span>
                    <span aria-hidden="true">{move || if menu_open.get() { "✕" } else { "☰" }}</span>
                </button>
            </div>
            // Following a link on a phone should reveal the page, not leave the menu over it.
            <nav id="main-nav" class="nav" aria-label="Main" on:click=move |_| menu_open.set(false)>
                <ul>
                    {NAV_ITEMS
                        .iter()
                        .map(|item| {
                            view! {
                                <li>
                                    <A href=item.href exact=true>
                                        <span class="nav-icon" aria-hidden="true">{item.icon}</span>
                                        <span>{item.label}</span>
                                    </A>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            </nav>
            <Account />
            <p class="sidebar-foot">"Research use only — not a diagnostic device."</p>
        </header>
    }
}

/// Who is signed in, with a way out; or a way in.
#[component]
fn Account() -> impl IntoView {
    let sign_out = Action::new(|_: &()| logout());
    Effect::new(move |_| {
        if sign_out.value().get().is_some() {
            reload_to("/");
        }
    });
    let account = match use_session().user {
        Some(user) => {
            let admin = user.role.allows(Role::Admin);
            view! {
                <p class="small">
                    <span data-testid="account-name">{user.username}</span>
                    " · "
                    <span class="badge" data-testid="account-role">{user.role.as_str()}</span>
                </p>
                {admin.then(|| view! { <A href="/users">"Users & audit"</A> })}
                <button
                    type="button"
                    class="button small"
                    data-testid="logout"
                    on:click=move |_| {
                        sign_out.dispatch(());
                    }
                >
                    "Log out"
                </button>
            }
            .into_any()
        }
        None => {
            // Back to this page after logging in.
            let location = leptos_router::hooks::use_location();
            let href = move || {
                let path = location.pathname.get();
                if path == "/login" || path == "/" {
                    "/login".to_owned()
                } else {
                    format!("/login?next={path}")
                }
            };
            view! { <a class="button small" href=href data-testid="login-link">"Log in"</a> }
                .into_any()
        }
    };
    view! { <div class="account" data-testid="account">{account}</div> }
}
