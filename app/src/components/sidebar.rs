use leptos::prelude::*;
use leptos_router::components::A;

use crate::PRODUCT_NAME;

/// One entry of the navigation: where it goes and what it is called.
struct NavItem {
    href: &'static str,
    label: &'static str,
    icon: &'static str,
}

const NAV_ITEMS: [NavItem; 7] = [
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
            <p class="sidebar-foot">"Research use only — not a diagnostic device."</p>
        </header>
    }
}
