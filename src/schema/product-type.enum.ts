import { registerEnumType } from 'type-graphql';

export enum ProductType {
  L = 'L',
  M = 'M',
  H = 'H',
}

registerEnumType(ProductType, {
  name: 'ProductType',
  description: 'Product quality variant of the part being machined (low, medium, high).',
  valuesConfig: {
    L: { description: 'Low quality variant (60 % of the training data).' },
    M: { description: 'Medium quality variant (30 %).' },
    H: { description: 'High quality variant (10 %).' },
  },
});
