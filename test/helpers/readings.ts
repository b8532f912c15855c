/** A reading well inside the training envelope (its own module: unit tests take it without loading the server). */
export const NORMAL_READING = {
  airTemperature: 300.1,
  processTemperature: 310.2,
  rotationalSpeed: 1500,
  torque: 40,
  toolWear: 100,
  productType: 'L' as const,
};
