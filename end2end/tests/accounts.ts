import { join } from "node:path";

/**
 * The first admin the server under test creates from ADMIN_PASSWORD (its data folder is thrown
 * away after the run), and where the setup project leaves that admin's browser session and API token.
 */
export const ADMIN = { username: "admin", password: "e2e-admin-password-1" };
const authDir = join(__dirname, "..", ".auth");
export const STORAGE_STATE = join(authDir, "admin.json");
export const TOKEN_FILE = join(authDir, "admin-token.txt");
