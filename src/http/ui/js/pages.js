// pages.js — the page list the shell routes to, in nav order (docs/ui-shape.md). One import per page so a
// page is added in exactly one place.

import live from './live.js';
import camera from './camera.js';
import events from './events.js';
import adminCameras from './admin/cameras.js';
import adminAlerts from './admin/alerts.js';
import adminUsers from './admin/users.js';
import system from './system.js';

export default [live, camera, events, adminCameras, adminAlerts, adminUsers, system];
