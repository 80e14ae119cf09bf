import type * as React from 'react';

import { Alert, Box, Flex, Loader, Typography } from '@strapi/design-system';

/** A request that failed: the server's message, in place of the data. */
export const ErrorAlert = ({ title, message }: { title: string; message: string }) => (
  <Box paddingBottom={4}>
    <Alert closeLabel="Close" title={title} variant="danger">
      {message}
    </Alert>
  </Box>
);

export const Loading = ({ label }: { label: string }) => (
  <Flex justifyContent="center" padding={8}>
    <Loader>{label}</Loader>
  </Flex>
);

/** A block of "label: value" pairs (the server view's cards). */
export const Stat = ({ label, value, testId }: { label: string; value: string; testId?: string }) => (
  <Flex direction="column" alignItems="flex-start" gap={1}>
    <Typography variant="sigma" textColor="neutral600">
      {label}
    </Typography>
    <Typography variant="omega" fontWeight="semiBold" data-testid={testId}>
      {value}
    </Typography>
  </Flex>
);

/** Light panel around a section. */
export const Panel = ({ children, title }: { children: React.ReactNode; title?: React.ReactNode }) => (
  <Box background="neutral0" hasRadius shadow="tableShadow" padding={6} marginBottom={4}>
    {title ? (
      <Box paddingBottom={4}>
        <Typography variant="delta" tag="h2">
          {title}
        </Typography>
      </Box>
    ) : null}
    {children}
  </Box>
);
