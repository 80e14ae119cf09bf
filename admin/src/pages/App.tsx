/**
 * The plugin page (`/admin/plugins/redis/*`): a side navigation and one route per view; it
 * opens on the dashboard.
 * The menu link already requires `plugin::redis.read`; Page.Protect checks it again for a
 * direct URL.
 */
import { Layouts, Page, SubNav } from '@strapi/strapi/admin';
import { Navigate, Route, Routes } from 'react-router-dom';

import { PERMISSIONS } from '../permissions';
import { PLUGIN_ID } from '../pluginId';
import { useT } from '../utils/intl';
import { CachePage } from './CachePage';
import { ConnectionsPage } from './ConnectionsPage';
import { CountersPage } from './CountersPage';
import { CronPage } from './CronPage';
import { DashboardPage } from './DashboardPage';
import { HealthPage } from './HealthPage';
import { KeysPage } from './KeysPage';
import { MemoryPage } from './MemoryPage';
import { ServerPage } from './ServerPage';
import { SlowlogPage } from './SlowlogPage';

const BASE = `/plugins/${PLUGIN_ID}`;

const VIEWS = [
  { path: 'dashboard', key: 'nav.dashboard', label: 'Dashboard' },
  { path: 'connections', key: 'nav.connections', label: 'Connections' },
  { path: 'server', key: 'nav.server', label: 'Server' },
  { path: 'health', key: 'nav.health', label: 'Health' },
  { path: 'slowlog', key: 'nav.slowlog', label: 'Slow log' },
  { path: 'keys', key: 'nav.keys', label: 'Keys' },
  { path: 'memory', key: 'nav.memory', label: 'Memory' },
  { path: 'cache', key: 'nav.cache', label: 'Cache' },
  { path: 'cron', key: 'nav.cron', label: 'Cron' },
  { path: 'counters', key: 'nav.counters', label: 'Counters' },
] as const;

const RedisNav = () => {
  const t = useT();
  return (
    <SubNav.Main aria-label={t('plugin.name', 'Redis')}>
      <SubNav.Header label={t('plugin.name', 'Redis')} />
      <SubNav.Content>
        <SubNav.Sections>
          {VIEWS.map((view) => (
            <SubNav.Link key={view.path} to={`${BASE}/${view.path}`} label={t(view.key, view.label)} />
          ))}
        </SubNav.Sections>
      </SubNav.Content>
    </SubNav.Main>
  );
};

const App = () => (
  <Page.Protect permissions={PERMISSIONS.read}>
    <Layouts.Root sideNav={<RedisNav />}>
      <Routes>
        <Route index element={<Navigate to="dashboard" replace />} />
        <Route path="dashboard" element={<DashboardPage />} />
        <Route path="connections" element={<ConnectionsPage />} />
        <Route path="server" element={<ServerPage />} />
        <Route path="health" element={<HealthPage />} />
        <Route path="slowlog" element={<SlowlogPage />} />
        <Route path="keys" element={<KeysPage />} />
        <Route path="memory" element={<MemoryPage />} />
        <Route path="cache" element={<CachePage />} />
        <Route path="cron" element={<CronPage />} />
        <Route path="counters" element={<CountersPage />} />
        <Route path="*" element={<Navigate to="dashboard" replace />} />
      </Routes>
    </Layouts.Root>
  </Page.Protect>
);

export { App };
export default App;
